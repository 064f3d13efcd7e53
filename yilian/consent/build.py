"""Building Consent resources the way Yilian records them: the act (capture method and channel), the notice
version and the evidence kept with every capture. Used by the portal, the demo, tests and benchmarks."""

from __future__ import annotations

from yilian.consent.codes import (
    ACT_CODE_SYSTEM,
    CAPTURE_EXT,
    CHANNEL_EXT,
    NOTICE_EXT,
    PURPOSE_SYSTEM,
    RESOURCE_TYPES_SYSTEM,
)

SENSITIVE_CLASSES = frozenset({"HIV", "STD", "PSY", "GDIS"})
NOTICE_VERSION = "2026-01"


def consent(
    patient: str,
    *,
    permit: bool = True,
    purposes: tuple[str, ...] = ("TREAT",),
    recipients: tuple[str, ...] = (),
    classes: tuple[str, ...] = (),
    when: str = "2026-01-01T09:00:00+08:00",
    status: str = "active",
    method: str = "explicit-click",
    channel: str = "portal",
    evidence: str = "点击同意记录",
    notice: str = NOTICE_VERSION,
    exceptions: tuple[dict, ...] = (),
) -> dict:
    """A Consent about `patient` (an id, or a conditional reference such as "Patient?identifier=...")."""
    provision: dict = {"type": "permit" if permit else "deny"}
    if purposes:
        provision["purpose"] = [{"system": PURPOSE_SYSTEM, "code": p} for p in purposes]
    if recipients:
        provision["actor"] = [
            {"role": {"text": "recipient"}, "reference": {"reference": f"Organization/{r}"}}
            for r in recipients
        ]
    types = [c for c in classes if c not in SENSITIVE_CLASSES]
    labels = [c for c in classes if c in SENSITIVE_CLASSES]
    if types:
        provision["class"] = [{"system": RESOURCE_TYPES_SYSTEM, "code": c} for c in types]
    if labels:
        provision["securityLabel"] = [{"system": ACT_CODE_SYSTEM, "code": c} for c in labels]
    if exceptions:
        provision["provision"] = list(exceptions)
    reference = patient if "?" in patient or "/" in patient else f"Patient/{patient}"
    return {
        "resourceType": "Consent",
        "status": status,
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": reference},
        "dateTime": when,
        "policyRule": {"text": f"医联体诊疗信息共享知情同意 {notice}"},
        "extension": [
            {"url": CAPTURE_EXT, "valueCode": method},
            {"url": CHANNEL_EXT, "valueCode": channel},
            {"url": NOTICE_EXT, "valueString": notice},
        ],
        "sourceAttachment": {"contentType": "text/plain", "title": evidence},
        "provision": provision,
    }
