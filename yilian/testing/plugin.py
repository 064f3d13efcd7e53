"""pytest plugin (loaded by `-p yilian.testing.plugin`): real databases, real app, per-test isolation.

Store-level fixtures run on SQLite always and on PostgreSQL too when YILIAN_TEST_POSTGRES_URL is set
(each test is then run once per backend). Each test gets an empty, migrated database: SQLite by copying a
template migrated once per session, PostgreSQL by truncating every table.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from yilian.config import Settings
from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate
from yilian.store import schema
from yilian.store.engine import make_engine
from yilian.wiring import build_gate

POSTGRES_URL = os.environ.get("YILIAN_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]
REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("YILIAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_data(relative: str) -> Path:
    """A file under ../shared/data, or skip the test with a clear reason when it is absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"needs {path} (the shared reference data), which is not present on this machine")
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    schema.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> str:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests run when YILIAN_TEST_POSTGRES_URL is set")
    engine = make_engine(Settings(database_url=POSTGRES_URL, _env_file=None))
    with engine.begin() as conn:  # a test database: start each session from nothing, then migrate
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    schema.upgrade(engine)
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests run when YILIAN_TEST_POSTGRES_URL is set")
    return request.param


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        db = tmp_path / "yilian.db"
        shutil.copy(template, db)
        url = f"sqlite:///{db}"
    else:
        url = request.getfixturevalue("postgres_ready")
    return Settings(database_url=url, base_url="http://testserver/fhir", demo=False, _env_file=None)


@pytest.fixture
def engine(settings: Settings, backend: str) -> Iterator[Engine]:
    engine = make_engine(settings)
    if backend == "postgres":
        names = ", ".join(t.name for t in schema.load_all_tables().sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names}"))
    yield engine
    engine.dispose()


@pytest.fixture
def gate(engine: Engine, settings: Settings) -> Gate:
    return build_gate(settings, engine)


def caller(roles: str, org: str | None = "m-tertiary-1", purpose: str | None = None, **kw) -> Caller:  # noqa: ANN003
    from yilian.gate.policy import default_purpose

    purpose = purpose or default_purpose(frozenset(roles.split()))
    return Caller(
        kw.get("user_id", roles.replace(" ", "-")),
        kw.get("name", roles),
        org,
        frozenset(roles.split()),
        purpose,
        kw.get("patient_id"),
    )


@pytest.fixture
def admin() -> Caller:
    return caller("admin", None)


class Fhir:
    """Calls the router as a given caller: fhir.post("Patient", {...}), fhir.get("Patient?name=x")."""

    def __init__(self, gate: Gate, who: Caller) -> None:
        self.gate, self.who = gate, who

    def as_(self, who: Caller) -> Fhir:
        return Fhir(self.gate, who)

    def request(self, method: str, url: str, body: dict | None = None, **headers: str) -> FhirResponse:
        from urllib.parse import parse_qsl, urlsplit

        from yilian.fhir.router import handle

        parts = urlsplit(url)
        hdrs = {k.replace("_", "-").lower(): v for k, v in headers.items()}
        req = FhirRequest(method, parts.path, parse_qsl(parts.query, keep_blank_values=True), body, hdrs)
        return handle(self.gate, self.who, req)

    def get(self, url: str, **headers: str) -> FhirResponse:
        return self.request("GET", url, **headers)

    def post(self, url: str, body: dict, **headers: str) -> FhirResponse:
        return self.request("POST", url, body, **headers)

    def put(self, url: str, body: dict, **headers: str) -> FhirResponse:
        return self.request("PUT", url, body, **headers)

    def delete(self, url: str) -> FhirResponse:
        return self.request("DELETE", url)


@pytest.fixture
def fhir(gate: Gate, admin: Caller) -> Fhir:
    return Fhir(gate, admin)


@pytest.fixture
def client(settings: Settings, engine: Engine):  # noqa: ANN201 - a TestClient
    from fastapi.testclient import TestClient

    from yilian.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def tokens(engine: Engine) -> dict[str, str]:
    """Bearer tokens of a few users, by role name."""
    from yilian.gate.users import add_user

    return {
        "admin": add_user(engine, "admin", "联盟管理员", None, ["admin"], token="t-admin"),
        "clinician": add_user(engine, "dr.li", "李医生", "m-tertiary-1", ["clinician"], token="t-clinician"),
        "member": add_user(engine, "his-a", "HIS of A", "m-a", ["member-system"], token="t-member-a"),
        "member_b": add_user(engine, "his-b", "HIS of B", "m-b", ["member-system"], token="t-member-b"),
    }


def consent_resource(patient_id: str, **kwargs) -> dict:  # noqa: ANN003 - see yilian.consent.build
    """A Consent as a patient gives it (capture method, notice version and evidence included)."""
    from yilian.consent.build import consent

    return consent(patient_id, **kwargs)


def sign_in(client, token: str) -> None:  # noqa: ANN001 - a TestClient
    """Sign a TestClient in on the web pages with a bearer token, as a fresh session."""
    client.cookies.clear()
    response = client.post("/signin", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
