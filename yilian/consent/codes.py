"""Extensions and codes of Yilian's Consent resources."""

from yilian.alliance.codes import ACT_CODE, BASE

CAPTURE_EXT = f"{BASE}/StructureDefinition/consent-capture"  # valueCode: how the patient consented
CHANNEL_EXT = f"{BASE}/StructureDefinition/consent-channel"  # valueCode: desk, portal, app
NOTICE_EXT = f"{BASE}/StructureDefinition/consent-notice-version"  # valueString: the notice shown

# Acts that count as consent (DOMAIN.md §3). Silence is not among them.
CAPTURE_METHODS = {
    "explicit-click": ("点击同意", "Clicked to agree"),
    "signature": ("签字", "Signed"),
    "spoken-recorded": ("口头同意并录音", "Spoken and recorded"),
    "implied-after-notice": ("告知后以行为默示", "Implied by an act after clear notice"),
}
CHANNELS = {
    "desk": ("成员单位窗口", "At a member's desk"),
    "portal": ("患者门户", "Patient portal"),
    "app": ("移动应用", "Mobile app"),
}

PURPOSE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
ACT_CODE_SYSTEM = ACT_CODE
