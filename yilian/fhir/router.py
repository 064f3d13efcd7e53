"""The FHIR router: one entry point, `handle`, for every FHIR interaction from every transport.

The HTTP API, the CLI, ingest and workflows all build a FhirRequest and call `handle`, so behaviour and
errors are the same everywhere. Reads run in a read transaction, everything else in one write
transaction, so a failed request leaves nothing half-written.
"""

from __future__ import annotations

from yilian.fhir import interactions, transaction
from yilian.fhir.capability import capability_statement
from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.operations import registry
from yilian.fhir.outcomes import FhirError, bad_request, not_allowed, not_supported
from yilian.fhir.validation import is_known_resource_type
from yilian.gate.access import Access
from yilian.gate.caller import Caller
from yilian.gate.repository import Gate, GatedRepository

READ_METHODS = ("GET", "HEAD")


def handle(gate: Gate, caller: Caller, request: FhirRequest) -> FhirResponse:
    """Run one FHIR interaction for `caller`. Raises FhirError for anything a client should see."""
    request.method = request.method.upper()
    parts = request.parts()
    if parts == ["metadata"] and request.method in READ_METHODS:
        return FhirResponse(200, capability_statement(gate.settings))
    if parts and not parts[0].startswith(("$", "_")) and not is_known_resource_type(parts[0]):
        raise bad_request(f"'{parts[0]}' is not a FHIR R4 resource type")
    is_search_post = len(parts) == 2 and parts[1] == "_search" and request.method == "POST"
    writing = not (request.method in READ_METHODS or is_search_post)
    access = Access(caller, request, action_of(request, parts), writing=writing)
    try:
        with (gate.writing if writing else gate.reading)(caller) as repo:
            response = dispatch(repo, request)
            if not writing:
                repo.note_consents()
            access.response, access.touched, access.notes = response, repo.touched, repo.notes
            access.conn = repo.conn
            gate.notify(access)  # inside the transaction: a write and its audit row commit together
            return response
    except FhirError as err:
        if access.response is None:  # the request itself failed: record the refusal, after rollback
            access.error, access.conn = err, None
            gate.notify(access)
        raise


def action_of(request: FhirRequest, parts: list[str]) -> str:
    """A short name for what a request does, for the audit trail."""
    m, n = request.method.upper(), len(parts)
    if n == 0:
        return "transaction" if m == "POST" else "search"
    if parts[-1].startswith("$"):
        return parts[-1][1:]
    if "_history" in parts:
        return "vread" if parts[-1] != "_history" else "history"
    if m in ("GET", "HEAD"):
        return "read" if n == 2 else "search"
    if n == 2 and parts[1] == "_search":
        return "search"
    return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(m, m.lower())


def dispatch(repo: GatedRepository, req: FhirRequest) -> FhirResponse:
    """Route one interaction inside an open transaction (also used for Bundle entries)."""
    parts = req.parts()
    m, n = req.method.upper(), len(parts)
    if n == 0:
        if m == "POST":
            return transaction.process(repo, req)
        if m == "GET" and req.query:
            raise not_supported("Searching across all resource types is not supported; name a type")
    elif n == 1:
        if parts[0].startswith("$"):
            return _operation(repo, req, "", None, parts[0])  # system-level ($export)
        if parts[0] == "_history" and m == "GET":
            return interactions.history(repo, req, None, None)
        return _type_level(repo, req, parts[0])
    elif n == 2:
        if parts[1] == "_history" and m == "GET":
            return interactions.history(repo, req, parts[0], None)
        if parts[1] == "_search" and m == "POST":
            return interactions.search(repo, req, parts[0])
        if parts[1].startswith("$"):
            return _operation(repo, req, parts[0], None, parts[1])
        return _instance_level(repo, req, parts[0], parts[1])
    elif n == 3 and parts[2] == "_history" and m == "GET":
        return interactions.history(repo, req, parts[0], parts[1])
    elif n == 3 and parts[2].startswith("$"):
        return _operation(repo, req, parts[0], parts[1], parts[2])
    elif n == 4 and parts[2] == "_history" and m == "GET":
        return interactions.vread(repo, req, parts[0], parts[1], parts[3])
    raise not_allowed(f"{m} /{req.path} is not a FHIR interaction this server supports")


def _type_level(repo: GatedRepository, req: FhirRequest, rtype: str) -> FhirResponse:
    handlers = {
        "GET": interactions.search,
        "POST": interactions.create,
        "PUT": interactions.conditional_update,
        "DELETE": interactions.conditional_delete,
    }
    if req.method not in handlers:
        raise not_allowed(f"{req.method} is not allowed on /{rtype}")
    return handlers[req.method](repo, req, rtype)


def _instance_level(repo: GatedRepository, req: FhirRequest, rtype: str, rid_id: str) -> FhirResponse:
    handlers = {"GET": interactions.read, "PUT": interactions.update, "DELETE": interactions.delete}
    if req.method not in handlers:
        raise not_allowed(f"{req.method} is not allowed on /{rtype}/{rid_id}")
    return handlers[req.method](repo, req, rtype, rid_id)


def _operation(
    repo: GatedRepository, req: FhirRequest, rtype: str, rid_id: str | None, name: str
) -> FhirResponse:
    handler = registry().get((rtype, name, rid_id is not None))
    if handler is not None and req.method in ("GET", "POST"):
        return handler(repo, req, rid_id)
    where = f"{rtype}{' instances' if rid_id else ''}" if rtype else "the server"
    raise not_supported(f"Operation {name} is not supported on {where}")


def handle_group(gate: Gate, caller: Caller, requests: list[FhirRequest]) -> list[FhirResponse | FhirError]:
    """Run write requests in ONE database transaction, each all-or-nothing: a failed one is undone alone
    and returned as its FhirError. Bulk loaders and feeds use it so that index pages dirtied by one
    Bundle are written once for many (a commit per Bundle rewrites the same pages again and again).

    Consecutive planned Bundles of creates are applied together (transaction.apply_run: one lookup, one
    insert per table for all of them, in one savepoint); if that cannot be done exactly, or one of them
    fails, they are applied again one by one, each in a savepoint of its own."""
    results: list[FhirResponse | FhirError] = []
    with gate.writing(caller) as repo:
        for run in _runs(requests):
            together = _applied_together(gate, repo, caller, run) if len(run) > 1 else None
            results += together if together is not None else [_one(gate, repo, caller, r) for r in run]
    return results


def _runs(requests: list[FhirRequest]) -> list[list[FhirRequest]]:
    """The requests in order, consecutive mergeable plans together, every other request alone."""
    runs: list[list[FhirRequest]] = []
    joins = False  # whether the last run takes mergeable plans
    for request in requests:
        together = request.plan is not None and transaction.mergeable(request.plan)
        if together and joins:
            runs[-1].append(request)
        else:
            runs.append([request])
        joins = together
    return runs


def _applied_together(
    gate: Gate, repo: GatedRepository, caller: Caller, run: list[FhirRequest]
) -> list[FhirResponse] | None:
    start = len(repo.touched)
    try:
        with repo.conn.begin_nested():
            applied = transaction.apply_run(repo, [r.plan for r in run])
    except (FhirError, transaction.NotMergeable):
        del repo.touched[start:]
        return None  # nothing of the run stays: it is applied again one by one
    for request, (response, created) in zip(run, applied, strict=True):
        access = Access(caller, request, "transaction", writing=True, conn=repo.conn)
        access.response, access.touched = response, created
        gate.notify(access)
    return [response for response, _created in applied]


def _one(gate: Gate, repo: GatedRepository, caller: Caller, request: FhirRequest) -> FhirResponse | FhirError:
    access = Access(caller, request, "transaction", writing=True, conn=repo.conn)
    start = len(repo.touched)
    try:
        with repo.conn.begin_nested():
            access.response = dispatch(repo, request)
            access.touched = repo.touched[start:]
            gate.notify(access)
    except FhirError as err:
        del repo.touched[start:]
        access.error, access.touched = err, []
        gate.notify(access)
        return err
    return access.response


def safe_handle(gate: Gate, caller: Caller, request: FhirRequest) -> FhirResponse:
    """`handle`, with FhirErrors turned into OperationOutcome responses (for transports that want that)."""
    try:
        return handle(gate, caller, request)
    except FhirError as err:
        return FhirResponse(err.status, err.outcome())
