"""The MLLP listener (`yilian mllp`): HL7 v2 over TCP, each message framed <VT> message <FS><CR>.

Every frame is stored, processed and recorded before the acknowledgement goes back, so an AA means the
message is in the store and its data written, and an AE/AR carries the reason (the message waits in
the dead letters). One thread per connection; the store's single writer serialises the writes.
"""

from __future__ import annotations

import logging
import socketserver
import threading

from yilian.gate.repository import Gate
from yilian.ingest.hl7v2.ack import build_ack
from yilian.ingest.hl7v2.decode import decode
from yilian.ingest.intake import hl7_items
from yilian.ingest.pipeline import ingest

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


def answer(gate: Gate, payload: bytes, member: str | None, peer: str) -> str:
    """Ingest one frame and return the acknowledgement to send back."""
    items = hl7_items(payload, member=member, source=f"mllp:{peer}")
    results = ingest(gate, items)
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
                reply = answer(self.server.gate, payload, self.server.member, peer)
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

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> threading.Thread:
        """Serve in a background thread (tests, embedding); `shutdown()` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="mllp", daemon=True)
        thread.start()
        return thread
