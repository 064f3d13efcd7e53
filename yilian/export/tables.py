"""Export jobs: kicked off by a request, run by the server's exporter thread (or the CLI), polled by the
client. A job outlives a restart: one accepted or running when the server stopped runs again from the
start."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text

from yilian.store.tables import metadata

export_jobs = Table(
    "export_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("caller", Text, nullable=False),  # JSON: who asked, with which roles, member, purpose and scopes
    Column("request", Text, nullable=False),  # the kick-off URL (the manifest's `request`)
    Column("level", String(8), nullable=False),  # system, patient or group
    Column("group_id", String(64)),
    Column("types", Text),  # JSON list of resource types, or NULL for every type
    Column("since", Float),
    Column("status", String(12), nullable=False),  # accepted, running, completed, failed, cancelled
    Column("written", Integer, nullable=False, server_default="0"),
    Column("created", Float, nullable=False),
    Column("transaction_time", Float),
    Column("finished", Float),
    Column("error", Text),
    Column("output", Text),  # JSON [[type, count], ...] once completed
)
Index("ix_export_jobs_status", export_jobs.c.status, export_jobs.c.created)
