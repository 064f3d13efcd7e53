"""The master patient index's own tables (never clinical data: the Patients stay in the store).

- `mpi_records`: one row per indexed Patient: its normalised matching features, the demographics the
  golden record is built from, and the person (cluster) it belongs to.
- `mpi_keys`: blocking keys (and identifier keys for PIX look-ups) -> Patient, the real-time candidate index.
- `mpi_links`: scored pairs the matcher linked or queued for review, and the pairs a person decided.
- `mpi_persons`: one row per person (cluster) with its golden values and where each came from.
- `mpi_actions`: every link, unlink, merge, unmerge and review decision, with what it changed (to undo it).
- `mpi_models`: trained Fellegi-Sunter models (Splink JSON) and the thresholds an administrator set.
"""

from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text, UniqueConstraint

from yilian.store.tables import NO_ROWID, metadata

mpi_records = Table(
    "mpi_records",
    metadata,
    Column("patient_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),  # the Patient version these features were read from
    Column("member", String(64)),
    Column("person_id", String(64), nullable=False),
    Column("active", Boolean, nullable=False),  # False: retired by a member's merge (A40) or deleted
    Column("features", Text, nullable=False),  # normalised matching features (JSON)
    Column("demographics", Text, nullable=False),  # the Patient's identifiers, name, telecom... (JSON)
    Column("name_chars", String(64)),  # kept as columns too: term frequencies are indexed counts
    Column("name_key", String(128)),
    Column("updated", Float, nullable=False),
)
Index("ix_mpi_records_person", mpi_records.c.person_id)
Index("ix_mpi_records_name_chars", mpi_records.c.name_chars)
Index("ix_mpi_records_name_key", mpi_records.c.name_key)

mpi_keys = Table(
    "mpi_keys",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("patient_id", String(64), primary_key=True),
    **NO_ROWID,
)
Index("ix_mpi_keys_patient", mpi_keys.c.patient_id)

mpi_links = Table(
    "mpi_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("a", String(64), nullable=False),  # a < b
    Column("b", String(64), nullable=False),
    # auto (linked by the matcher) | review (waits for a person) | match | no-match (a person decided)
    Column("status", String(16), nullable=False),
    Column("weight", Float),  # Fellegi-Sunter match weight (log2 odds) when the matcher scored it
    Column("probability", Float),
    Column("evidence", Text),  # per field: level, weight, values compared (JSON)
    Column("reasons", Text),  # the rules that decided it (space-separated codes)
    Column("decided_by", String(64)),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    UniqueConstraint("a", "b", name="uq_mpi_links_pair"),
)
Index("ix_mpi_links_b", mpi_links.c.b)
Index("ix_mpi_links_status", mpi_links.c.status, mpi_links.c.updated)

mpi_persons = Table(
    "mpi_persons",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("golden", Text, nullable=False),  # field -> {value, source patient, member, rule} (JSON)
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
)

mpi_actions = Table(
    "mpi_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action", String(16), nullable=False),  # link | unlink | merge | unmerge | review | a40 | undo
    Column("by", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Column("note", Text),
    Column("changes", Text, nullable=False),  # [[a, b, status before or null, status after or null]] (JSON)
    Column("undone_by", Integer),  # the action that reversed this one
)

mpi_models = Table(
    "mpi_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", Float, nullable=False),
    Column("source", Text, nullable=False),  # what it was trained on
    Column("params", Text, nullable=False),  # Splink's model JSON (m and u per comparison level)
    Column("auto_weight", Float, nullable=False),  # at or above: automatic link (if the rules allow)
    Column("review_weight", Float, nullable=False),  # at or above: review; below: no link
    Column("active", Boolean, nullable=False),
)
