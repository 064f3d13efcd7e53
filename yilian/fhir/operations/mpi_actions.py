"""The master patient index's actions, each a POST by an administrator or MPI steward (see
yilian/identity/merge.py): Patient/$mpi-link (patient, other), Patient/$mpi-unlink (patient),
Person/$mpi-merge (person, other), Person/$mpi-unmerge (action), Patient/$mpi-review (review, decision
`match` | `no-match`), Patient/$mpi-undo (action). Every one takes an optional `note`; the answer names
the action (to undo it) and the persons it changed."""

from __future__ import annotations

from collections.abc import Callable

from yilian.fhir.messages import FhirRequest, FhirResponse
from yilian.fhir.operations import operation
from yilian.fhir.outcomes import bad_request
from yilian.gate.repository import GatedRepository
from yilian.identity import merge, persons
from yilian.identity.params import reference_id, value


def _run(repo: GatedRepository, req: FhirRequest, act: Callable[[str], tuple[int, set[str]]]) -> FhirResponse:
    if req.method != "POST":
        raise bad_request("This operation changes the master patient index: use POST")
    merge.check_steward(repo.caller)
    action_id, touched = act(str(value(req, "note") or ""))
    persons.sync(repo, touched)
    remaining = {pid for pid in touched if persons.golden_of(repo.conn, pid) is not None}
    return FhirResponse(
        200,
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "action", "valueInteger": action_id},
                *(
                    {"name": "person", "valueReference": {"reference": f"Person/{pid}"}}
                    for pid in sorted(remaining)
                ),
            ],
        },
    )


def _int(req: FhirRequest, name: str) -> int:
    v = value(req, name, required=True)
    try:
        return int(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise bad_request(f"'{name}' must be an integer") from None


@operation("Patient", "$mpi-link", instance=False)
def link(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    a, b = reference_id(req, "patient", "Patient"), reference_id(req, "other", "Patient")
    return _run(repo, req, lambda note: merge.link(repo.conn, repo.caller, a, b, note))


@operation("Patient", "$mpi-unlink", instance=False)
def unlink(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    a = reference_id(req, "patient", "Patient")
    return _run(repo, req, lambda note: merge.unlink(repo.conn, repo.caller, a, note))


@operation("Person", "$mpi-merge", instance=False)
def merge_persons(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    a, b = reference_id(req, "person", "Person"), reference_id(req, "other", "Person")
    return _run(repo, req, lambda note: merge.merge(repo.conn, repo.caller, a, b, note))


@operation("Person", "$mpi-unmerge", instance=False)
def unmerge(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    action = _int(req, "action")
    return _run(
        repo, req, lambda note: merge.undo(repo.conn, repo.caller, action, note, only=("merge", "link"))
    )


@operation("Patient", "$mpi-undo", instance=False)
def undo(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    action = _int(req, "action")
    return _run(repo, req, lambda note: merge.undo(repo.conn, repo.caller, action, note))


@operation("Patient", "$mpi-review", instance=False)
def review(repo: GatedRepository, req: FhirRequest, _id: None) -> FhirResponse:
    link_id, decision = _int(req, "review"), value(req, "decision", required=True)
    if decision not in ("match", "no-match"):
        raise bad_request("'decision' is match or no-match")
    return _run(
        repo,
        req,
        lambda note: merge.decide_review(repo.conn, repo.caller, link_id, decision == "match", note),
    )
