"""Kill -9 the server while it is writing and reading: no acknowledged event is lost.

`yilian serve` runs in a subprocess on a free 127.0.0.1 port over a fresh SQLite database. Client
threads post single resources, transaction Bundles and searches, each request unique, and note every
request the server acknowledged (answered 2xx). The server is killed mid-load, restarted, stopped
cleanly; then the log must verify and hold an event for every acknowledged request.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import select

from yilian.config import Settings
from yilian.gate.users import add_user
from yilian.store import schema
from yilian.wiring import build_gate

BIN = Path(sys.executable).parent / "yilian"
TOKEN = "t-crash-admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "YILIAN_DATABASE_URL": f"sqlite:///{db}", "YILIAN_AUDIT_FOLD_SECONDS": "0.2"}
    proc = subprocess.Popen(
        [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-upgrade"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("the server did not start")


class Load:
    """Client threads that keep sending unique requests and remember which were acknowledged."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.created: list[str] = []  # Patient ids whose create was acknowledged
        self.searched: list[str] = []  # query strings whose search was acknowledged
        self.counter = 0

    def _next(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def run(self, kind: str) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/fhir+json"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as http:
            while not self.stop.is_set():
                n = self._next()
                try:
                    self._one(http, kind, n)
                except httpx.HTTPError:
                    return  # the server died: requests without an answer were never acknowledged

    def _one(self, http: httpx.Client, kind: str, n: int) -> None:
        if kind == "create":
            r = http.post("/fhir/Patient", content=orjson.dumps(patient(n)))
            if r.status_code == 201:
                with self.lock:
                    self.created.append(r.json()["id"])
        elif kind == "bundle":
            entries = [
                {"resource": patient(n * 1000 + i), "request": {"method": "POST", "url": "Patient"}}
                for i in range(40)
            ]
            r = http.post(
                "/fhir",
                content=orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
            )
            if r.status_code == 200:
                ids = [e["response"]["location"].split("/")[1] for e in r.json()["entry"]]
                with self.lock:
                    self.created.extend(ids)
        else:
            query = f"gender=unknown&_count={n % 50 + 1}&_offset={n}"
            r = http.get(f"/fhir/Patient?{query}")
            if r.status_code == 200:
                with self.lock:
                    self.searched.append(f"Patient?{query}")


def patient(n: int) -> dict:
    return {"resourceType": "Patient", "name": [{"family": "crash", "given": [f"n{n}"]}]}


def test_no_acknowledged_event_is_lost_when_the_server_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    settings = Settings(database_url=f"sqlite:///{db}", _env_file=None)
    gate = build_gate(settings)
    schema.upgrade(gate.engine)
    add_user(gate.engine, "crash-admin", "Crash admin", None, ["admin"], token=TOKEN)

    port = free_port()
    server = start(db, port)
    load = Load(f"http://127.0.0.1:{port}")
    threads = [threading.Thread(target=load.run, args=(k,)) for k in ("create", "bundle", "search", "search")]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while (len(load.created) < 200 or len(load.searched) < 50) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(server.pid, signal.SIGKILL)  # mid-load: requests are in flight
    server.wait(timeout=30)
    load.stop.set()
    for t in threads:
        t.join(timeout=30)
    assert load.created and load.searched, "the load never got going"

    server = start(db, port)  # the server comes back on the same database
    server.send_signal(signal.SIGTERM)  # a clean stop folds what is pending
    server.wait(timeout=60)

    from yilian.audit.log import of
    from yilian.audit.tables import audit_entry, audit_event
    from yilian.audit.verify import verify_log

    log = of(gate)
    log.fold_all()
    report = verify_log(log)
    assert report.ok, report.problems
    written, queries = set(), set()
    with gate.engine.connect() as conn:
        rows = select(audit_entry.c.entry, audit_event.c.action).join_from(
            audit_event, audit_entry, audit_entry.c.seq == audit_event.c.seq
        )
        for entry, action in conn.execute(rows):
            event = orjson.loads(entry)
            for e in event.get("entity", []):
                ref = e.get("what", {}).get("reference", "")
                if action in ("create", "transaction") and ref.startswith("Patient/"):
                    written.add(ref.split("/")[1])
                if "query" in e:
                    queries.add(base64.b64decode(e["query"]).decode())
    assert set(load.created) <= written, f"{len(set(load.created) - written)} acknowledged writes unaudited"
    assert set(load.searched) <= queries, f"{len(set(load.searched) - queries)} acknowledged reads unaudited"
