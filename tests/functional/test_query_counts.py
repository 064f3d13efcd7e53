"""Query-count baselines: $everything and search run a fixed number of SQL statements, however many
resources they return (an N+1 regression shows up here, not in production)."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def counted(engine):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # noqa: ANN001
        # The audit trail's own appends are a fixed cost per request, not part of the read being measured.
        if (
            not statement.startswith(("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE"))
            and "audit_" not in statement
        ):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def seed(fhir, n_obs: int) -> str:
    pid = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": "钱"}]}).resource()["id"]
    entries = [
        {
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "HR"},
                "subject": {"reference": f"Patient/{pid}"},
                "performer": [{"reference": "Organization/o1"}],
            },
            "request": {"method": "POST", "url": "Observation"},
        }
        for _ in range(n_obs)
    ]
    fhir.put("Organization/o1", {"resourceType": "Organization", "id": "o1", "name": "社区"})
    fhir.post("", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    return pid


def test_everything_query_count_does_not_grow_with_the_record(fhir, engine):
    small, large = seed(fhir, 2), seed(fhir, 40)
    with counted(engine) as few:
        assert len(fhir.get(f"Patient/{small}/$everything").resource()["entry"]) == 4
    with counted(engine) as many:
        assert len(fhir.get(f"Patient/{large}/$everything").resource()["entry"]) == 42
    assert len(few) == len(many) <= 3  # the patient, their consent grants, the record


def test_search_with_includes_query_count_is_fixed(fhir, engine):
    seed(fhir, 3)
    seed(fhir, 30)
    url = "Observation?code:text=HR&_include=Observation:subject&_include=Observation:performer&_count="
    with counted(engine) as few:
        small = fhir.get(url + "2").resource()
    with counted(engine) as many:
        bundle = fhir.get(url + "50").resource()
    assert len(small["entry"]) < len(bundle["entry"]) == 33 + 2 + 1
    assert bundle["total"] == 33
    assert len(few) == len(many) + 1  # the small page also counts the total; neither grows with the rows
    assert len(many) <= 4  # page, include subject, include performer, the audit trail's patient lookup
