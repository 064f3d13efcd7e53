"""Reading a FHIR Consent into grants, and checking that a Consent records a real act of consent."""

from __future__ import annotations

from dataclasses import dataclass

from yilian.consent.codes import ACT_CODE_SYSTEM, CAPTURE_EXT, CAPTURE_METHODS, NOTICE_EXT
from yilian.fhir.outcomes import Problem
from yilian.store.search.dates import MAX_TIME, MIN_TIME, date_range

ANY = "*"


@dataclass(frozen=True)
class Grant:
    consent_id: str
    patient_id: str
    depth: int
    permit: bool
    purpose: str
    recipient: str
    data_class: str
    start: float
    end: float
    recorded: float

    def row(self) -> dict:
        return self.__dict__.copy()


def grants_of(consent: dict, recorded_fallback: float) -> list[Grant]:
    """The grants an active Consent gives (none when it is not active: withdrawal stops future use)."""
    if consent.get("status") != "active":
        return []
    patient = _patient_id(consent)
    provision = consent.get("provision")
    if not patient or not isinstance(provision, dict):
        return []
    recorded = _when(consent.get("dateTime"), recorded_fallback)
    out: list[Grant] = []
    _expand(consent["id"], patient, recorded, provision, 0, None, out)
    return out


def _expand(
    cid: str, patient: str, recorded: float, p: dict, depth: int, parent: dict | None, out: list[Grant]
) -> None:
    inherited = parent or {}
    purposes = (
        [c["code"] for c in p.get("purpose", []) if c.get("code")] or inherited.get("purposes") or [ANY]
    )
    recipients = (
        [_org_id(a) for a in p.get("actor", []) if _org_id(a)] or inherited.get("recipients") or [ANY]
    )
    classes = [c["code"] for c in p.get("class", []) if c.get("code")]
    classes += [
        s["code"] for s in p.get("securityLabel", []) if s.get("system") == ACT_CODE_SYSTEM and s.get("code")
    ]
    classes = classes or inherited.get("classes") or [ANY]
    period = p.get("period") or inherited.get("period") or {}
    start = (
        date_range(period["start"])[0] if period.get("start") and date_range(period["start"]) else MIN_TIME
    )
    end = date_range(period["end"])[1] if period.get("end") and date_range(period["end"]) else MAX_TIME
    permit = p.get("type", inherited.get("type", "deny")) == "permit"
    for purpose in purposes:
        for recipient in recipients:
            for data_class in classes:
                out.append(
                    Grant(cid, patient, depth, permit, purpose, recipient, data_class, start, end, recorded)
                )
    here = {
        "purposes": purposes,
        "recipients": recipients,
        "classes": classes,
        "period": period,
        "type": p.get("type", inherited.get("type", "deny")),
    }
    for child in p.get("provision", []):
        if isinstance(child, dict):
            _expand(cid, patient, recorded, child, depth + 1, here, out)


def _patient_id(consent: dict) -> str | None:
    ref = (consent.get("patient") or {}).get("reference", "")
    return ref.split("/", 1)[1] if ref.startswith("Patient/") else None


def _org_id(actor: dict) -> str | None:
    ref = (actor.get("reference") or {}).get("reference", "")
    return ref.split("/", 1)[1] if ref.startswith("Organization/") else None


def _when(value: str | None, fallback: float) -> float:
    rng = date_range(value) if value else None
    return rng[0] if rng else fallback


def capture_problems(consent: dict) -> list[Problem]:
    """Why a Consent does not record an act of consent (silence is never consent; the notice and the
    evidence are kept with every capture)."""
    problems = []
    ext = {e.get("url"): e for e in consent.get("extension", [])}
    method = (ext.get(CAPTURE_EXT) or {}).get("valueCode")
    if method not in CAPTURE_METHODS:
        problems.append(
            Problem(
                f"Consent must say how the patient consented ({CAPTURE_EXT}: one of "
                f"{', '.join(CAPTURE_METHODS)}); silence is never consent",
                "required",
                "Consent.extension",
            )
        )
    if not (ext.get(NOTICE_EXT) or {}).get("valueString"):
        problems.append(
            Problem(
                f"Consent must name the notice version shown to the patient ({NOTICE_EXT})",
                "required",
                "Consent.extension",
            )
        )
    if not (consent.get("sourceAttachment") or consent.get("sourceReference")):
        problems.append(
            Problem(
                "Consent must keep its evidence (sourceAttachment or sourceReference)",
                "required",
                "Consent.source[x]",
            )
        )
    if not _patient_id(consent):
        problems.append(Problem("Consent.patient must reference the Patient", "required", "Consent.patient"))
    if not isinstance(consent.get("provision"), dict) or consent["provision"].get("type") not in (
        "permit",
        "deny",
    ):
        problems.append(
            Problem("Consent.provision.type must be permit or deny", "required", "Consent.provision.type")
        )
    return problems
