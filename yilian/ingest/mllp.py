"""The MLLP listener (`yilian mllp`): HL7 v2 over TCP, each message framed <VT> message <FS><CR>.

Every frame is stored, processed and recorded before the acknowledgement goes back, so an AA means the
message is in the store and its data written, and an AE/AR carries the reason (the message waits in
the dead letters). One thread per connection reads frames and answers them; the messages of every
connection are ingested by one thread, together when they arrive together (ingest/batcher.py).
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Sequence

from yilian.gate.repository import Gate
from yilian.ingest.batcher import Batcher
from yilian.ingest.hl7v2.ack import build_ack
from yilian.ingest.hl7v2.decode import decode
from yilian.ingest.intake import hl7_items
from yilian.ingest.pipeline import Result, ingest
from yilian.ingest.store import Incoming

START, END = b"\x0b", b"\x1c\x0d"
MAX_FRAME = 16 * 1024 * 1024  # a frame larger than this is not a message: drop the connection
log = logging.getLogger(__name__)


def frames(buffer: bytearray) -> list[bytes]:
    """Take every complete frame out of the buffer (bytes before a start block are discarded)."""
    out = []
    while True:
        start = buffer.find(START)
        if start < 0:
            buffer.clear()
            return out
        end = buffer.find(END, start)
        if end < 0:
            del buffer[:start]
            return out
        out.append(bytes(buffer[start + 1 : end]))
        del buffer[: end + 2]


def frame(text: str) -> bytes:
    return START + text.encode("utf-8") + END


def exchange(host: str, port: int, payloads: Sequence[bytes], timeout: float = 60) -> list[bytes]:
    """Send payloads as a sender does, on one connection, each after the previous one's acknowledgement;
    returns the acknowledgements (what tests and the benchmark use as the other side)."""
    acks: list[bytes] = []
    with socket.create_connection((host, port), timeout=timeout) as sock:
        buffer = bytearray()
        for payload in payloads:
            sock.sendall(START + payload + END)
            while not (got := frames(buffer)):
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the listener closed the connection")
                buffer += chunk
            acks += got
    return acks


def answer(
    gate: Gate,
    payload: bytes,
    member: str | None,
    peer: str,
    ingest_now: Callable[[Sequence[Incoming]], list[Result]] | None = None,
) -> str:
    """Ingest one frame (by `ingest_now`, else on its own) and return the acknowledgement to send back."""
    items = hl7_items(payload, member=member, source=f"mllp:{peer}")
    results = ingest_now(items) if ingest_now is not None else ingest(gate, items)
    try:
        received = decode(payload, items[0].charset).text
    except Exception:  # noqa: BLE001 - undecodable bytes still get an AR
        received = ""
    if len(results) != 1:  # a batch in one frame: one ACK for the first, naming the count
        bad = [r for r in results if r.status == "rejected"]
        first = bad[0] if bad else results[0]
        text = f"{len(results)} messages, {len(bad)} rejected" + (f": {first.error}" if bad else "")
        return build_ack(received, first.status, text, code=first.code, location=first.location)
    r = results[0]
    if r.status == "processed":
        text = f"Recorded as message {r.id} ({r.resources} resources)"
    elif r.status == "duplicate":
        text = f"Duplicate of message {r.duplicate_of}: already recorded, not processed again"
    else:
        text = f"Stored as message {r.id} and rejected: {r.error}"
    return build_ack(received, r.status, text, code=r.code, location=r.location)


class _Handler(socketserver.BaseRequestHandler):
    server: MllpServer

    def handle(self) -> None:
        peer = f"{self.client_address[0]}:{self.client_address[1]}"
        buffer = bytearray()
        while True:
            try:
                chunk = self.request.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            if len(buffer) > MAX_FRAME:
                log.warning("MLLP frame from %s over %d bytes: connection dropped", peer, MAX_FRAME)
                return
            for payload in frames(buffer):
                server = self.server
                reply = answer(server.gate, payload, server.member, peer, server.batcher.ingest_now)
                self.request.sendall(frame(reply))


class MllpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, gate: Gate, host: str = "127.0.0.1", port: int = 2575, member: str | None = None
    ) -> None:
        super().__init__((host, port), _Handler)
        self.gate = gate
        self.member = member
        self.batcher = Batcher(gate)

    def server_close(self) -> None:
        super().server_close()
        self.batcher.close()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, embedding); `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="mllp", daemon=True)
        thread.start()
        return thread
