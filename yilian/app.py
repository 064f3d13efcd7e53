"""create_app(settings) -> the FastAPI application: the FHIR API, the web pages and their static files."""

from __future__ import annotations

from fastapi import FastAPI

from yilian.config import Settings
from yilian.fhir import api as fhir_api
from yilian.gate import api as auth_api
from yilian.wiring import build_gate


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title="Yilian 医联", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.settings = settings
    app.state.gate = build_gate(settings)
    from yilian.export import api as export_api

    export_api.install(app)  # its /fhir/$export-* routes come before the FHIR catch-all
    app.include_router(fhir_api.router)
    app.include_router(auth_api.router)
    fhir_api.install_error_handlers(app)
    from yilian.consent import pages as consent_pages
    from yilian.gate import pages as gate_pages
    from yilian.web import pages

    pages.install(app)
    gate_pages.install(app)
    consent_pages.install(app)
    from yilian.audit import pages as audit_pages

    audit_pages.install(app)  # the access log, the security officer's pages, the audit folder thread
    from yilian.ingest.pages import router as ingest_pages

    app.include_router(ingest_pages)  # data quality, dead letters, fix and replay
    from yilian.identity import pages as identity_pages

    identity_pages.install(app)  # the master patient index's review page
    from yilian.export import pages as export_pages

    export_pages.install(app)  # start, watch and download bulk exports (a patient: their own record)
    return app
