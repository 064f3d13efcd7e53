"""The server's folder: a background thread that folds recorded events into the Merkle log every
`Settings.audit_fold_seconds`, and once more when the server stops. Events are durable before it runs,
so a crash only delays folding: the next folder (or `yilian audit fold`) picks them up."""

from __future__ import annotations

import logging
import threading

from yilian.audit.log import AuditLog

log = logging.getLogger(__name__)


class Folder:
    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="audit-folder", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
            self.thread = None
        if self.audit.spool is not None:
            self.audit.spool.close()  # the segment is final: the last fold drains it and deletes it
        self._fold()

    def _run(self) -> None:
        while not self.stopping.wait(self.audit.settings.audit_fold_seconds):
            self._fold()

    def _fold(self) -> None:
        try:
            self.audit.fold_all()
        except Exception:  # noqa: BLE001 - a failed fold is retried next time; the events are safe
            log.exception("folding the audit log failed; will retry")
