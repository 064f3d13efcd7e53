"""The MLLP listener on a free 127.0.0.1 port: framed messages in, ACK / NAK with the error back."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "ingest"))
from v2_fixtures import CODES, oru  # noqa: E402

from yilian.ingest import (
    mllp,  # noqa: E402
    store,  # noqa: E402
)
from yilian.ingest.mllp import END, START, MllpServer, frames  # noqa: E402


@pytest.fixture
def listener(gate, fhir):
    fhir.put("Organization/m-a", {"resourceType": "Organization", "id": "m-a", "name": "甲医院"})
    store.save_code_tables(gate.engine, "m-a", CODES)
    server = MllpServer(gate, "127.0.0.1", 0)
    server.start()
    yield server
    server.shutdown()
    server.server_close()


def exchange(port: int, *payloads: bytes) -> list[str]:
    """Send framed payloads on one connection; return the acknowledgements."""
    return [ack.decode("utf-8") for ack in mllp.exchange("127.0.0.1", port, payloads, timeout=30)]


def msa(ack: str) -> list[str]:
    return next(s for s in ack.split("\r") if s.startswith("MSA")).split("|")


def test_accepts_rejects_and_recognises_duplicates(listener, fhir):
    good, bad = oru("M1").encode(), oru("M2", glucose="高").encode()
    gbk = oru("M3").replace("UNICODE UTF-8", "GB18030").encode("gb18030")
    acks = exchange(listener.port, good, bad, good, gbk, b"hello, not HL7")
    ok, nak, dup, chinese, garbage = acks
    assert msa(ok)[:3] == ["MSA", "AA", "M1"] and "ACK^R01^ACK" in ok
    assert msa(nak)[:3] == ["MSA", "AE", "M2"]
    assert "not a number" in msa(nak)[3] and "ERR||OBX^1^5|102^Data type error^HL70357|E" in nak
    assert msa(dup)[1] == "AA" and "Duplicate of message" in msa(dup)[3]
    assert msa(chinese)[1] == "AA"
    assert msa(garbage)[1] == "AR" and "MSH" in garbage
    # M3 resends report R100 under another control id (and character set): its results match, not duplicate
    assert fhir.get("Observation?_summary=count").resource()["total"] == 2
    statuses = [r.status for r in store.list_messages(listener.gate.engine)]
    assert statuses == ["processed", "rejected", "duplicate", "processed", "rejected"]  # every frame stored


def test_a_message_split_across_packets_and_two_in_one(listener):
    payload = START + oru("S1").encode() + END + START + oru("S2").encode() + END
    with socket.create_connection(("127.0.0.1", listener.port), timeout=30) as sock:
        sock.sendall(payload[:50])
        sock.sendall(payload[50:])
        buffer = bytearray()
        acks: list[bytes] = []
        while len(acks) < 2:
            buffer += sock.recv(65536)
            acks += frames(buffer)
    assert [msa(a.decode())[2] for a in acks] == ["S1", "S2"]


def test_connections_sending_at_once_are_ingested_together(listener, fhir, monkeypatch):
    """Six senders at once: each gets its own ACKs in order, everything is stored once, and the listener
    ingested them in fewer batches than messages (group commit)."""
    import threading

    from yilian.ingest import batcher

    batches: list[int] = []
    real = batcher.ingest

    def counting(gate, items):  # noqa: ANN001, ANN202
        batches.append(len(items))
        return real(gate, items)

    monkeypatch.setattr(batcher, "ingest", counting)
    sent = {k: [oru(f"P{k}-{j}").replace("R100", f"R{k}{j}").encode() for j in range(5)] for k in range(6)}
    acks: dict[int, list[str]] = {}
    start = threading.Barrier(6)

    def sender(k: int) -> None:
        start.wait()
        acks[k] = exchange(listener.port, *sent[k])

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(6):
        assert [msa(a)[1:3] for a in acks[k]] == [["AA", f"P{k}-{j}"] for j in range(5)]
    assert sum(batches) == 30 and len(batches) < 30
    assert fhir.get("DiagnosticReport?_summary=count").resource()["total"] == 30
    assert {r.status for r in store.list_messages(listener.gate.engine, limit=100)} == {"processed"}
