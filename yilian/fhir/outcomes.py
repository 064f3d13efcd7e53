"""One mapping from errors to FHIR OperationOutcome, used by the API, the CLI and the web pages alike."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One issue of an OperationOutcome: what is wrong and where (a FHIRPath-like location)."""

    message: str
    code: str = "invalid"  # OperationOutcome.issue.code
    location: str | None = None
    severity: str = "error"


@dataclass
class FhirError(Exception):
    """An error a FHIR client should see, with the HTTP status it maps to."""

    status: int
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(p.message + (f" (at {p.location})" if p.location else "") for p in self.problems)

    def outcome(self) -> dict:
        return operation_outcome(self.problems)


def operation_outcome(problems: list[Problem]) -> dict:
    issues = []
    for p in problems:
        issue: dict = {"severity": p.severity, "code": p.code, "diagnostics": p.message}
        if p.location:
            issue["expression"] = [p.location]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def information(message: str) -> dict:
    return operation_outcome([Problem(message, code="informational", severity="information")])


def _error(status: int, code: str):  # noqa: ANN202 - a factory of constructors
    def make(message: str, location: str | None = None) -> FhirError:
        return FhirError(status, [Problem(message, code, location)])

    return make


bad_request = _error(400, "invalid")
unauthorized = _error(401, "login")
forbidden = _error(403, "forbidden")
not_found = _error(404, "not-found")
not_allowed = _error(405, "not-supported")
conflict = _error(409, "conflict")
gone = _error(410, "deleted")
precondition_failed = _error(412, "conflict")
unprocessable = _error(422, "processing")
not_supported = _error(501, "not-supported")


def invalid_resource(problems: list[Problem]) -> FhirError:
    return FhirError(400, problems)


def too_deep(location: str | None = None) -> FhirError:
    """A valid resource nested deeper than its JSON can be written (orjson: 254 levels; validation's walk
    counts no levels): the store refuses it where it serialises it."""
    return invalid_resource([Problem(TOO_DEEP, "invalid", location)])


TOO_DEEP = "the resource is nested too deeply to store (at most 254 levels of JSON)"


def multiple_matches(what: str) -> FhirError:
    return precondition_failed(f"{what} matched more than one resource; make the criteria more selective")
