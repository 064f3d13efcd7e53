"""The exports page: start a bulk export of what one may see (for a patient: their own health record, the
PIPL right to a copy), watch it run, download its files. Everything runs through the router as the user."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from yilian.export import jobs
from yilian.export.runner import completed_file
from yilian.fhir.messages import FhirRequest
from yilian.fhir.outcomes import FhirError
from yilian.fhir.router import handle
from yilian.gate.users import User
from yilian.web import i18n
from yilian.web.pages import add_nav, error_page, render, signed_in

router = APIRouter(include_in_schema=False)

i18n.register(
    {
        "nav.exports": "数据导出",
        "exports.title": "数据导出",
        "exports.intro": "导出您有权查看的数据，格式为 FHIR NDJSON（每种资源一个文件）。导出按您的角色、用途和患者授权执行，"
        "每一页都记入审计日志。",
        "exports.patient_intro": "下载您在医联体各成员单位的完整健康档案副本（FHIR NDJSON 格式，可交给其他医疗机构或应用使用）。"
        "这次导出会记入您的访问日志。",
        "exports.mine": "下载我的健康档案",
        "exports.level": "范围",
        "exports.level.patient": "患者档案（各患者的记录）",
        "exports.level.system": "我能看到的全部数据",
        "exports.types": "资源类型（逗号分隔，留空为全部）",
        "exports.since": "只导出此日期之后更新的数据",
        "exports.start": "开始导出",
        "exports.jobs": "我的导出",
        "exports.none": "还没有导出。",
        "exports.started": "开始时间",
        "exports.state": "状态",
        "exports.files": "文件",
        "exports.written": "已写出 {n} 条",
        "exports.empty": "没有您可以查看的数据",
        "export.accepted": "排队中",
        "export.running": "进行中",
        "export.completed": "已完成",
        "export.failed": "失败",
        "export.cancelled": "已取消",
    },
    {
        "nav.exports": "Exports",
        "exports.title": "Data exports",
        "exports.intro": "Export the data you may see as FHIR NDJSON (one file per resource type). The export "
        "runs with your roles, purpose of use and the patients' consents; every page is audited.",
        "exports.patient_intro": "Download a copy of your whole health record from every member of the alliance "
        "(FHIR NDJSON, which other providers and apps can read). The export appears in your access log.",
        "exports.mine": "Download my health record",
        "exports.level": "Scope",
        "exports.level.patient": "Patient records",
        "exports.level.system": "Everything I may see",
        "exports.types": "Resource types (comma-separated; empty for all)",
        "exports.since": "Only data changed since",
        "exports.start": "Start the export",
        "exports.jobs": "My exports",
        "exports.none": "No exports yet.",
        "exports.started": "Started",
        "exports.state": "State",
        "exports.files": "Files",
        "exports.written": "{n} written",
        "exports.empty": "Nothing you may see",
        "export.accepted": "Waiting",
        "export.running": "Running",
        "export.completed": "Done",
        "export.failed": "Failed",
        "export.cancelled": "Cancelled",
    },
)


def install(app: FastAPI) -> None:
    app.include_router(router)
    add_nav("/exports", "nav.exports", "exports")


def _jobs(request: Request, user: User) -> list[jobs.Job]:
    with request.app.state.gate.engine.connect() as conn:
        return jobs.of_user(conn, user.id)


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request, user: User = Depends(signed_in)) -> HTMLResponse:
    return render(request, "export/exports.html", user=user, active="exports", jobs=_jobs(request, user))


@router.get("/exports/jobs", response_class=HTMLResponse)
def jobs_fragment(request: Request, user: User = Depends(signed_in)) -> HTMLResponse:
    """The jobs table alone: the page polls it while a job runs."""
    return render(request, "export/_jobs.html", user=user, jobs=_jobs(request, user))


@router.post("/exports")
def start(
    request: Request,
    level: str = Form("patient"),
    types: str = Form(""),
    since: str = Form(""),
    user: User = Depends(signed_in),
) -> Response:
    path = "$export" if level == "system" and not user.patient_id else "Patient/$export"
    query = [(k, v.strip()) for k, v in (("_type", types), ("_since", since)) if v.strip()]
    try:
        handle(
            request.app.state.gate,
            user.caller(),
            FhirRequest("GET", path, query, None, {"prefer": "respond-async"}),
        )
    except FhirError as err:
        return error_page(request, err, user)
    return RedirectResponse("/exports", status_code=303)


@router.get("/exports/{job_id}/{name}")
def download(request: Request, job_id: str, name: str, user: User = Depends(signed_in)) -> Response:
    gate = request.app.state.gate
    try:
        with gate.engine.connect() as conn:
            path = completed_file(gate.settings, jobs.get(conn, job_id, user.caller()), name)
    except FhirError as err:
        return error_page(request, err, user)
    return FileResponse(path, media_type="application/fhir+ndjson", filename=name)
