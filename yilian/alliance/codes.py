"""Code systems Yilian defines for alliance membership and provenance.

Members are FHIR Organizations. Their kind is an Organization.type coding in MEMBER_TYPE; the alliance
itself is an Organization typed ALLIANCE whose model (city medical group, county medical community...)
is an extension; each member points at the alliance through Organization.partOf.
Every stored resource carries a meta.tag in SOURCE_MEMBER naming the member it came from.
"""

BASE = "https://yilian.org/fhir"

MEMBER_TYPE = f"{BASE}/CodeSystem/member-type"
MEMBER_TYPES = {
    "alliance": ("医联体", "Medical alliance"),
    "tertiary-hospital": ("三级医院", "Tertiary hospital"),
    "secondary-hospital": ("二级医院", "Secondary hospital"),
    "community-health-centre": ("社区卫生服务中心", "Community health centre"),
    "public-health": ("公共卫生系统", "Public-health system"),
}

ALLIANCE_MODEL_EXT = f"{BASE}/StructureDefinition/alliance-model"
ALLIANCE_MODEL = f"{BASE}/CodeSystem/alliance-model"
ALLIANCE_MODELS = {
    "city-medical-group": ("城市医疗集团", "City medical group"),
    "county-medical-community": ("县域医共体", "County medical community"),
    "specialty-alliance": ("跨区域专科联盟", "Cross-regional specialty alliance"),
    "telemedicine-network": ("远程医疗协作网", "Telemedicine network"),
}

# meta.tag naming the member a resource came from; code = the member Organization's id.
SOURCE_MEMBER = f"{BASE}/CodeSystem/source-member"

# GB/T 39725-2020 labels in meta.security (written by gate/labels.py; copied into columns by the store).
GBT_LEVEL = f"{BASE}/CodeSystem/gbt39725-level"  # code L1..L5
GBT_CATEGORY = f"{BASE}/CodeSystem/gbt39725-category"  # PA, HS, MA, MP, HR, PH
SENSITIVE_ELEMENT = f"{BASE}/CodeSystem/sensitive-element"  # elements to redact for readers without the right
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"  # sensitivity classes: HIV, STD, PSY, GDIS
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
# The HL7 confidentiality code that follows from a GB/T 39725 level: V, R, M; any other level is "L".
CONFIDENTIALITY_OF_LEVEL = {5: "V", 4: "R", 3: "M"}

# Identifier systems.
RESIDENT_ID = "urn:oid:2.16.156.10011.1.12"  # 居民身份证号 (GB 11643)
HEALTH_RECORD_OID_ROOT = "2.16.156.10011.1.2"


def member_type_of(organization: dict) -> str | None:
    """The member-type code of an Organization resource, or None when it is not typed as a member."""
    for concept in organization.get("type", []):
        for coding in concept.get("coding", []):
            if coding.get("system") == MEMBER_TYPE:
                return coding.get("code")
    return None
