"""The review page: pairs the matcher could not decide, side by side with the evidence per field, and
"same person" / "not the same" buttons (htmx). Records are read through the router as the signed-in
user; the decision is the Patient/$mpi-review operation, so it is checked, recorded and audited."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse

from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError, forbidden
from yilian.fhir.router import handle
from yilian.gate.users import User
from yilian.identity import links
from yilian.identity.merge import STEWARD_ROLES
from yilian.web import i18n
from yilian.web.pages import add_nav, error_page, render, signed_in

router = APIRouter(include_in_schema=False)

i18n.register(
    {
        "nav.identity": "主索引审核", "mpi.title": "疑似同一患者审核", "mpi.none": "没有待审核的记录对。",
        "mpi.explain": "以下记录对的匹配证据不足以自动关联。请逐项核对后判断是否为同一人；每次判断均记录在案，可撤销。",
        "mpi.same": "是同一人", "mpi.different": "不是同一人", "mpi.weight": "匹配权重", "mpi.field": "字段",
        "mpi.level": "比对结果", "mpi.evidence": "证据权重", "mpi.left": "记录一", "mpi.right": "记录二",
        "mpi.why": "进入审核的原因", "mpi.decided_match": "已确认为同一人", "mpi.decided_no": "已确认不是同一人",
        "mpi.hidden": "（您无权查看此记录）", "mpi.member": "登记机构",
    },
    {
        "nav.identity": "Identity review", "mpi.title": "Possible duplicates to review",
        "mpi.none": "No pairs wait for review.",
        "mpi.explain": "The evidence for these pairs was not strong enough to link them automatically. Compare "
        "field by field and decide; every decision is recorded and can be undone.",
        "mpi.same": "Same person", "mpi.different": "Not the same", "mpi.weight": "Match weight",
        "mpi.field": "Field", "mpi.level": "Comparison", "mpi.evidence": "Evidence", "mpi.left": "Record 1",
        "mpi.right": "Record 2", "mpi.why": "Why it is here", "mpi.decided_match": "Linked as the same person",
        "mpi.decided_no": "Kept apart", "mpi.hidden": "(not visible to you)", "mpi.member": "Registered at",
    },
)  # fmt: skip


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_nav("/identity/reviews", "nav.identity", "identity", frozenset(STEWARD_ROLES))


@router.get("/identity/reviews", response_class=HTMLResponse)
def reviews(request: Request, user: User = Depends(signed_in)) -> HTMLResponse:
    if not user.roles & set(STEWARD_ROLES):
        return error_page(request, forbidden("Only an MPI steward or administrator reviews matches"), user)
    gate, caller = request.app.state.gate, user.caller()
    with gate.engine.connect() as conn:
        rows = [(row, links.evidence_of(conn, row)) for row in links.open_reviews(conn, limit=30)]
    pairs = []
    try:
        for row, evidence in rows:
            pairs.append(
                {
                    "id": row.id,
                    "weight": row.weight,
                    "reasons": (row.reasons or "").split(),
                    "evidence": evidence,
                    "left": _patient(gate, caller, row.a),
                    "right": _patient(gate, caller, row.b),
                }
            )
    except FhirError as err:
        return error_page(request, err, user)
    return render(request, "identity/reviews.html", user=user, pairs=pairs, active="identity")


@router.post("/identity/reviews/{review_id}", response_class=HTMLResponse)
def decide(
    request: Request, review_id: int, decision: str = Form(...), user: User = Depends(signed_in)
) -> HTMLResponse:
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "review", "valueInteger": review_id},
            {"name": "decision", "valueCode": decision},
        ],
    }
    try:
        handle(request.app.state.gate, user.caller(), FhirRequest("POST", "Patient/$mpi-review", body=body))
    except FhirError as err:
        return error_page(request, err, user)
    return render(request, "identity/_decided.html", user=user, decision=decision, review_id=review_id)


def _patient(gate, caller, patient_id: str) -> dict | None:  # noqa: ANN001 - a Gate and a Caller
    """The Patient as this user may see it (None when they may not)."""
    try:
        return handle(gate, caller, FhirRequest("GET", f"Patient/{patient_id}")).resource()
    except FhirError as err:
        if err.status in (403, 404, 410):
            return None
        raise
