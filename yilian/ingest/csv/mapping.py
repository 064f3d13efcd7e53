"""A member's CSV mapping (one TOML file per member): which export file is which kind of data, which
column holds which field, how values translate, and the member's local code tables.

```toml
member = "m-community-1"
encoding = "gb18030"                       # of the files; UTF-8 (with or without BOM) otherwise
mrn_system = "urn:oid:2.16.156.10011.1.2.4"  # the system of the member's record numbers

[files.patients]
match = "*居民档案*"                        # file names of this kind (glob)
[files.patients.columns]                   # Yilian field = the member's column
mrn = "档案编号"
name = "姓名"
[files.patients.values.gender]             # the member's values -> Yilian's
"男" = "male"

[files.results]
match = "*检验*"
group_by = "report_no"                     # rows with the same report number are one message
defaults = { category = "lab" }            # a field's value when the file has no column for it

[codes.lab]                                # local code -> standard code (see yilian.ingest.codes)
GLU = "14771-0"
```

Fields each kind understands are listed in yilian.ingest.csv.kinds.FIELDS.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field

from yilian.ingest.codes import Table, tables_from_toml
from yilian.ingest.errors import IngestError


@dataclass
class FileSpec:
    kind: str
    match: str
    columns: dict[str, str]  # field -> column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> member value -> ours
    group_by: str | None = None  # a field
    defaults: dict[str, str] = field(default_factory=dict)  # field -> value when the file has no column


@dataclass
class CsvMapping:
    member: str | None
    encoding: str | None
    mrn_system: str | None
    files: dict[str, FileSpec]
    codes: dict[str, Table]
    text: str

    def kind_of(self, file_name: str) -> FileSpec | None:
        return next((f for f in self.files.values() if fnmatch.fnmatch(file_name, f.match)), None)


def parse_mapping(text: str) -> CsvMapping:
    from yilian.ingest.csv.kinds import FIELDS, REQUIRED

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IngestError(f"The mapping file is not valid TOML: {exc}", location="mapping") from None
    files = {}
    for kind, spec in (doc.get("files") or {}).items():
        if kind not in FIELDS:
            raise IngestError(f"files.{kind}: unknown kind (known: {', '.join(FIELDS)})", location="mapping")
        columns = {str(k): str(v) for k, v in (spec.get("columns") or {}).items()}
        unknown = set(columns) - set(FIELDS[kind])
        if unknown:
            raise IngestError(
                f"files.{kind}.columns: unknown fields {sorted(unknown)} (known: {FIELDS[kind]})",
                location="mapping",
            )
        missing = [f for f in REQUIRED[kind] if f not in columns and f not in (spec.get("defaults") or {})]
        if missing:
            raise IngestError(
                f"files.{kind}.columns: required fields {missing} have no column", location="mapping"
            )
        files[kind] = FileSpec(
            kind,
            spec.get("match", f"*{kind}*"),
            columns,
            {k: {str(a): str(b) for a, b in v.items()} for k, v in (spec.get("values") or {}).items()},
            spec.get("group_by"),
            {str(k): str(v) for k, v in (spec.get("defaults") or {}).items()},
        )
    try:
        codes = tables_from_toml(doc)
    except ValueError as exc:
        raise IngestError(str(exc), location="mapping") from None
    return CsvMapping(doc.get("member"), doc.get("encoding"), doc.get("mrn_system"), files, codes, text)
