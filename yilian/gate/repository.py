"""GatedRepository: the store as one caller may see and change it.

Every method applies the caller's read scope inside its SQL (no fetch-then-filter) and checks writes before
they happen. One GatedRepository wraps one database transaction: `Gate.reading()` or `Gate.writing()`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Connection, Engine, exists, false, select

from yilian.config import Settings
from yilian.consent import service as consent_service
from yilian.consent.filters import decide_for_patient
from yilian.fhir.outcomes import multiple_matches, not_found
from yilian.gate import breakglass, policy, writes
from yilian.gate.access import Access, Observer
from yilian.gate.caller import Caller
from yilian.gate.labels import type_level
from yilian.gate.redaction import redact, touches_redacted_elements
from yilian.gate.scopes import check_scope
from yilian.store import dialect, repository
from yilian.store.codec import codec_of
from yilian.store.repository import Stored
from yilian.store.rows import PreparedBatch, member_of
from yilian.store.search.dates import instant
from yilian.store.search.derived import param_codes
from yilian.store.search.keys import param_key
from yilian.store.search.params import search_params
from yilian.store.search.parse import SearchQuery, parse_query
from yilian.store.search.sort import sort_order
from yilian.store.search.sql import query_conditions
from yilian.store.tables import compartment, resources

R = resources.c
BREAK_GLASS_NOTICE = ("https://yilian.org/fhir/CodeSystem/notice", "break-glass")


@dataclass
class SearchResult:
    matches: list[Stored]
    included: list[Stored] = field(default_factory=list)
    total: int | None = None


class Gate:
    """Hands out GatedRepositories bound to a transaction, and tells its observers what each request did."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.observers: list[Observer] = []

    def through(self, engine: Engine) -> Gate:
        """The same gate (settings, observers) writing through another engine of the same database, such
        as one whose SQLite checkpoints run in the background (store.dialect.background_checkpoints)."""
        other = Gate(engine, self.settings)
        other.observers = self.observers
        return other

    def notify(self, access: Access) -> None:
        for observer in self.observers:
            observer.observe(access)

    def _before_commit(self, conn: Connection) -> None:
        for observer in self.observers:
            hook = getattr(observer, "before_commit", None)
            if hook is not None:
                hook(conn)

    @contextmanager
    def reading(self, caller: Caller) -> Iterator[GatedRepository]:
        with self.engine.connect() as conn, conn.begin():
            yield GatedRepository(conn, caller, self.settings)

    @contextmanager
    def writing(self, caller: Caller) -> Iterator[GatedRepository]:
        with self.engine.connect().execution_options(**dialect.write_options()) as conn, conn.begin():
            yield GatedRepository(conn, caller, self.settings)
            self._before_commit(conn)  # observers that gather a transaction's work write it now


class GatedRepository:
    def __init__(self, conn: Connection, caller: Caller, settings: Settings) -> None:
        self.conn = conn
        self.caller = caller
        self.settings = settings
        self.touched: list[Stored] = []  # what this transaction showed or wrote, for the audit trail
        self._tokens_lookup = None  # the conditional lookup's statement, built on first use (scope known)
        self.notes: dict = {"purpose": caller.purpose}
        policy.check_purpose(caller)
        emergency = {}
        if caller.purpose == "ETREAT":
            emergency = breakglass.active_patients(conn, caller.user_id)
            self.notes["break_glass"] = emergency
        self._emergency = emergency
        self._scope = None

    @property
    def scope(self):  # noqa: ANN201 - a SQL condition
        """The caller's read scope, built on first use (a one-patient read builds a narrower one instead)."""
        if self._scope is None:
            self._scope = policy.read_scope(self.caller, self._emergency)
        return self._scope

    # ---- reads

    def _saw(self, found):  # noqa: ANN001, ANN202 - a Stored or a list of them
        """Record what the caller is shown, redacting level-5 elements they may not see."""
        if isinstance(found, list):
            shown = [self._redacted(s) for s in found]
            self.touched.extend(shown)
            return shown
        shown = self._redacted(found)
        self.touched.append(shown)
        return shown

    def _redacted(self, stored: Stored) -> Stored:
        if not stored.redact or policy.may_see_sensitive_elements(self.caller, stored.member):
            return stored
        return redact(stored)

    def read(self, rtype: str, rid_id: str) -> Stored:
        check_scope(self.caller.scopes, rtype, "r")
        return self._saw(repository.read(self.conn, rtype, rid_id, self.scope))

    def vread(self, rtype: str, rid_id: str, version: int) -> Stored:
        return self._saw(repository.vread(self.conn, rtype, rid_id, version, self.scope))

    def history(self, **kwargs) -> list[Stored]:  # noqa: ANN003 - see repository.history
        return self._saw(repository.history(self.conn, self.scope, **kwargs))

    def parse(self, rtype: str, pairs: list[tuple[str, str]]) -> SearchQuery:
        s = self.settings
        query = parse_query(rtype, pairs, default_count=s.default_page_size, max_count=s.max_page_size)
        codec = codec_of(self.conn)  # encrypted identifiers are searched by their keyed hashes
        return codec.seal_query(query) if codec else query

    def search(self, query: SearchQuery) -> SearchResult:
        check_scope(self.caller.scopes, query.resource_type, "s")
        conds = query_conditions(query, self.scope)
        if touches_redacted_elements(query):
            # Searching by a redacted element would reveal it: only rows whose elements the caller may see.
            conds.append(R.redact.is_(None) | policy.sensitive_elements_visible_sql(self.caller))
        if query.summary == "count":
            return SearchResult([], total=repository.count(self.conn, conds))
        order = sort_order(query)
        matches = self._saw(
            repository.fetch(self.conn, conds, order=order, limit=query.count, offset=query.offset)
        )
        total = None
        if query.offset == 0 and len(matches) < query.count:
            total = len(matches)
        elif query.total != "none":
            total = repository.count(self.conn, conds)
        return SearchResult(matches, self._includes(query, matches), total)

    def _includes(self, query: SearchQuery, matches: list[Stored]) -> list[Stored]:
        if not matches or not (query.includes or query.revincludes):
            return []
        seen = {m.rid for m in matches}
        found: list[Stored] = []
        for inc in query.includes:
            params = None if inc.param == "*" else [param_key(inc.source_type, inc.param)]
            rids = [m.rid for m in matches if inc.source_type in ("*", m.type)]
            found += repository.referenced_by(self.conn, rids, params, inc.target_type, self.scope)
        for inc in query.revincludes:
            params = None if inc.param == "*" else [param_key(inc.source_type, inc.param)]
            found += repository.referencing(self.conn, matches, inc.source_type, params, self.scope)
        unique = []
        for s in found:
            if s.rid not in seen:
                seen.add(s.rid)
                unique.append(s)
        return self._saw(unique)

    def find(self, rtype: str, pairs: list[tuple[str, str]]) -> list[Stored]:
        """Up to two matches of a conditional operation's criteria, within the caller's scope."""
        token = single_token(rtype, pairs)
        if token is not None and codec_of(self.conn) is None:  # sealed identifiers: parse() hashes them
            return self._find_by_tokens([(rtype, *token)])[0]
        query = self.parse(rtype, pairs)
        return repository.fetch(self.conn, query_conditions(query, self.scope), limit=2)

    def find_all(self, criteria: Sequence[tuple[str, list[tuple[str, str]]]]) -> list[list[Stored]]:
        """`find` for many criteria (rtype, pairs) at once: the plain token ones (nearly every conditional
        create and update an ingest feed sends) in one statement, the others one by one."""
        found: list[list[Stored] | None] = [None] * len(criteria)
        tokens: dict[int, tuple[str, str, str | None, str]] = {}
        if codec_of(self.conn) is None:  # sealed identifiers: parse() hashes them
            for i, (rtype, pairs) in enumerate(criteria):
                token = single_token(rtype, pairs)
                if token is not None:
                    tokens[i] = (rtype, *token)
        if tokens:
            for i, hits in zip(tokens, self._find_by_tokens(list(tokens.values())), strict=True):
                found[i] = hits
        return [hits if hits is not None else self.find(*criteria[i]) for i, hits in enumerate(found)]

    def _find_by_tokens(self, lookups: list[tuple[str, str, str | None, str]]) -> list[list[Stored]]:
        """Up to two matches of each `rtype?code=[system|]value`, in the caller's scope, in one statement."""
        if self._tokens_lookup is None:
            self._tokens_lookup = _cached_tokens_lookup(self.scope)
        stmt = self._tokens_lookup
        keys = [param_key(rtype, code) for rtype, code, _system, _value in lookups]
        rows = repository.run_tokens_lookup(
            self.conn, stmt, sorted(set(keys)), sorted({value for *_, value in lookups})
        )
        by_token: dict[tuple[int, str], list[tuple[str, Stored]]] = {}
        for param, row_system, row_value, stored in rows:  # in rid order; a key names its type too
            by_token.setdefault((param, row_value), []).append((row_system, stored))
        out = []
        for key, (_rtype, _code, system, value) in zip(keys, lookups, strict=True):
            hits: dict[int, Stored] = {}
            for row_system, stored in by_token.get((key, value), ()):
                if system is None or row_system == system:
                    hits.setdefault(stored.rid, stored)
            out.append(list(hits.values())[:2])
        return out

    def find_one(self, rtype: str, pairs: list[tuple[str, str]], what: str) -> Stored | None:
        hits = self.find(rtype, pairs)
        if len(hits) > 1:
            raise multiple_matches(what)
        return hits[0] if hits else None

    def everything(self, patient_id: str, **kwargs) -> list[Stored]:  # noqa: ANN003
        now, decisions = time.time(), None
        if policy.uses_consent(self.caller):
            grants = consent_service.grants_for(self.conn, patient_id)
            decisions = decide_for_patient(grants, "TREAT", self.caller.organization or "", now)
        scope = policy.patient_read_scope(self.caller, self._emergency, decisions, now)
        found = repository.everything(self.conn, patient_id, scope, **kwargs)
        if decisions is not None and any(self._shown_by_consent(s) for s in found):
            self.notes["consent"] = list(decisions.consents)
        if not found:
            # An empty page is an answer only for a patient the caller may see (filters or paging past
            # the end); otherwise the same 404 whether or not the patient exists. Some of a record may be
            # visible without its Patient (consent by class), so the read is made only when nothing is.
            repository.read(self.conn, "Patient", patient_id, scope, {"patient_id": patient_id})
        return self._saw(found)

    def export_page(
        self,
        after: int,
        limit: int,
        *,
        types: Sequence[str] | None = None,
        since: float | None = None,
        patients: Sequence[str] | None = None,
        compartments_only: bool = False,
    ) -> list[Stored]:
        """The next page of a bulk export in storage order (rows after `after`), within the caller's scope:
        every type, or `types`; with `compartments_only` only rows in some Patient's compartment, or in
        the compartments of `patients` (a Group's members)."""
        conds = [R.rid > after, R.deleted == false(), self.scope]
        if types:
            conds.append(R.type.in_(list(types)))
        if since is not None:
            conds.append(R.last_updated >= since)
        if patients is not None:
            conds.append(R.rid.in_(select(compartment.c.rid).where(compartment.c.patient_id.in_(patients))))
        elif compartments_only:
            conds.append(exists().where(compartment.c.rid == R.rid))
        return self._saw(repository.fetch(self.conn, conds, limit=limit))

    def note_consents(self) -> None:
        """Name, for the audit trail, the consents that let the caller see other members' records (a read's
        last step, before the observers are told)."""
        if "consent" in self.notes or not policy.uses_consent(self.caller):
            return
        foreign = [s.rid for s in self.touched if self._shown_by_consent(s)]
        if foreign:
            org, now = self.caller.organization or "", time.time()
            self.notes["consent"] = consent_service.consents_behind(self.conn, foreign, "TREAT", org, now)

    def _shown_by_consent(self, stored: Stored) -> bool:
        """Another member's record beyond the directory: the caller sees it by the patient's consent."""
        return stored.member != self.caller.organization and type_level(stored.type) > policy.DIRECTORY_LEVEL

    def care_relationships(self, patients: list[str], care_types: Sequence[str]) -> set[tuple[str, str]]:
        """(patient, organisation) pairs joined by a care resource (Encounter...) the caller may see."""
        return repository.care_relationships(self.conn, patients, care_types, self.scope)

    def count(self, rtype: str) -> int:
        return repository.count(self.conn, [R.type == rtype, R.deleted == false(), self.scope])

    # ---- writes

    def create_many(self, items: Sequence[tuple[dict, str | None]]) -> list[Stored]:
        """Create resources (resource, id or None); each gets its source member from the caller."""
        batch = []
        for resource, rid_id in items:
            policy.check_write(self.caller, resource["resourceType"], None)
            writes.before_write(self.caller, resource)
            batch.append((resource, rid_id, policy.member_for_write(self.caller, member_of(resource))))
        return self._wrote(repository.insert_new(self.conn, batch))

    def create_batch(self, batch: PreparedBatch) -> list[Stored]:
        """Store creates prepared ahead (by a transaction plan, which labelled them with
        `writes.before_write`); each resource type is checked like any write."""
        for rtype in dict.fromkeys(row[1] for row in batch.resources):
            policy.check_write(self.caller, rtype, None)
        return self._wrote(repository.insert_batch(self.conn, batch))

    def _wrote(self, stored: list[Stored]) -> list[Stored]:
        for s in stored:
            writes.after_write(self.conn, s)
        return self._saw(stored)

    def create(self, resource: dict) -> Stored:
        return self.create_many([(resource, None)])[0]

    def update(self, resource: dict, if_match: str | None = None) -> tuple[Stored, bool]:
        rtype = resource["resourceType"]
        existing = repository.current(self.conn, rtype, resource["id"], lock=True)
        visible = existing is None or self._visible(existing)
        if existing is not None and not visible:
            # Someone else's resource the caller cannot even see: do not reveal it exists.
            policy.check_write(self.caller, rtype, existing.member or "another member")
        policy.check_write(self.caller, rtype, existing.member if existing else None)
        writes.before_write(self.caller, resource)
        member = policy.member_for_write(self.caller, member_of(resource))
        stored, created = repository.write_version(
            self.conn, existing, resource, member=member, if_match=if_match
        )
        self._wrote([stored])
        return stored, created

    def delete(self, rtype: str, rid_id: str) -> Stored | None:
        existing = repository.current(self.conn, rtype, rid_id, lock=True)
        if existing is None or not self._visible(existing):
            return None
        policy.check_write(self.caller, rtype, existing.member)
        check_scope(self.caller.scopes, rtype, "d")
        return self._wrote([repository.delete_version(self.conn, existing)])[0]

    def break_glass(self, patient_id: str, reason: str) -> dict:
        """Open an emergency access to a patient's record and tell the patient (a Communication)."""
        if repository.current(self.conn, "Patient", patient_id) is None:
            raise not_found(f"Patient/{patient_id} is not known")
        grant = breakglass.open_access(
            self.conn, self.caller, patient_id, reason, self.settings.break_glass_minutes
        )
        notice = {
            "resourceType": "Communication",
            "status": "completed",
            "category": [
                {
                    "coding": [{"system": BREAK_GLASS_NOTICE[0], "code": BREAK_GLASS_NOTICE[1]}],
                    "text": "紧急调阅通知 Emergency access notice",
                }
            ],
            "subject": {"reference": f"Patient/{patient_id}"},
            "recipient": [{"reference": f"Patient/{patient_id}"}],
            "sent": instant(grant["started"]),
            "payload": [
                {
                    "contentString": f"{self.caller.name}（{self.caller.organization}）"
                    f"因紧急情况调阅了您的健康档案。理由：{grant['reason']}"
                }
            ],
        }
        self.create_many([(notice, None)])
        self.notes["break_glass_opened"] = {patient_id: grant["reason"]}
        return grant

    def _visible(self, stored: Stored) -> bool:
        return bool(repository.fetch(self.conn, [R.rid == stored.rid, self.scope], limit=1))

    def search_param_names(self, rtype: str) -> list[str]:
        return sorted(search_params(rtype))


# Scopes are cached per caller and minute (policy._read_scope): the statement built on one is reused by
# every transaction of that minute (a feed writing a message at a time built it each time: ~0.3 ms).
_cached_tokens_lookup = lru_cache(maxsize=256)(repository.tokens_lookup)


def single_token(rtype: str, pairs: list[tuple[str, str]]) -> tuple[str, str | None, str] | None:
    """(code, system, value) when the criteria are one plain token value (no modifier, no OR), else None."""
    if len(pairs) != 1:
        return None
    name, raw = pairs[0]
    param = search_params(rtype).get(name)
    if param is None or param.type != "token" or "," in raw or "\\" in raw:
        return None
    if name in ("_tag", "_security") or param_codes(rtype, name) != (name,):
        return None  # partly answered from columns or another parameter's rows (search/derived.py)
    if "|" not in raw:
        return (name, None, raw) if raw else None
    system, _, value = raw.partition("|")
    return (name, system, value) if system and value else None
