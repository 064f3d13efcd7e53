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
    sqlite_busy_timeout_ms: int = Field(
        30000, ge=0, description="How long a SQLite writer waits for the write lock before failing."
    )

    def sqlite_path(self) -> Path | None:
        """The database file when the store is SQLite on disk, else None."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :])
        return None
