"""Settings: every knob of a Yilian deployment, read from YILIAN_* environment variables or a .env file."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """A deployment's settings. Each field is documented; `yilian settings` prints them."""

    model_config = SettingsConfigDict(env_prefix="YILIAN_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/yilian.db",
        description="SQLAlchemy URL of the record store: SQLite (embedded, the default) or "
        "postgresql+psycopg://user@host/db for production.",
    )
    base_url: str = Field(
        "http://127.0.0.1:8000/fhir",
        description="The public base URL of the FHIR API, used in Bundle links and fullUrls.",
    )
    default_page_size: int = Field(20, ge=1, description="Search page size when _count is not given.")
    max_page_size: int = Field(1000, ge=1, description="The largest _count a search may ask for.")
    everything_page_size: int = Field(
        5000, ge=1, description="Resources per page of Patient/$everything (its _count may ask for fewer)."
    )
    max_bundle_entries: int = Field(
        10000, ge=1, description="The most entries a transaction or batch Bundle may carry."
    )
    session_hours: float = Field(8.0, gt=0, description="How long a web sign-in lasts.")
    secret_key: str = Field(
        "dev-only-change-me",
        description="Key that signs web session cookies. Set a long random value in production.",
    )
    demo: bool = Field(False, description="Demo mode: the sign-in page lists the demo users' access tokens.")
    break_glass_minutes: float = Field(
        60.0, gt=0, description="How long an emergency (break-glass) access to a patient's record lasts."
    )
    token_minutes: float = Field(
        60.0, gt=0, description="How long an OAuth2 access token from /auth/token lasts."
    )
    label_rules: str | None = Field(
        None, description="A TOML file of GB/T 39725 category and level rules (default: the built-in rules)."
    )
    sqlite_busy_timeout_ms: int = Field(
        30000, ge=0, description="How long a SQLite writer waits for the write lock before failing."
    )

    # ---- audit and data security (yilian/audit, yilian/crypto, docs/audit.md)
    crypto_suite: str = Field(
        "intl",
        pattern="^(intl|guomi)$",
        description="Crypto suite of the audit log and the identifier encryption: intl (SHA-256, Ed25519, "
        "AES-256-GCM) or guomi (SM3, SM2, SM4-GCM). Fixed once the audit log has entries.",
    )
    key_dir: str | None = Field(
        None,
        description="Directory of the key files kept outside the database (audit signing key, data keys). "
        "Default: a 'keys' folder beside the SQLite database file; ./var/keys with PostgreSQL.",
    )
    audit_signing_key: str | None = Field(
        None, description="The audit signing key file's JSON, given directly (wins over the key file)."
    )
    data_keys: str | None = Field(
        None, description="The data-encryption keys file's JSON, given directly (wins over the key file)."
    )
    audit_log_name: str = Field(
        "yilian.org/audit", description="Origin line of the audit log's signed checkpoints."
    )
    audit_fold_seconds: float = Field(
        1.0, gt=0, description="How often recorded audit events are folded into the Merkle log and signed."
    )
    encrypt_identifiers: bool = Field(
        False,
        description="Encrypt patients' direct identifiers (resident ID, phone, name, address) at rest, with "
        "keyed-hash search indexes. Set before loading data (or run `yilian crypto seal`).",
    )
    anomaly_patients: int = Field(
        50, ge=1, description="Security alert: a user reading more distinct patients than this in a day."
    )
    anomaly_denials: int = Field(
        5, ge=1, description="Security alert: a user refused this many times within an hour."
    )

    def keys_path(self) -> Path:
        """Where key files live: `key_dir`, else beside the SQLite database, else ./var/keys."""
        if self.key_dir:
            return Path(self.key_dir)
        db = self.sqlite_path()
        return db.parent / "keys" if db is not None else Path("var") / "keys"

    def sqlite_path(self) -> Path | None:
        """The database file when the store is SQLite on disk, else None."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None
