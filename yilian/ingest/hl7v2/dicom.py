"""DICOM references in an imaging report's OBX segments: the Study Instance UID, and each series with
its instances, as ImagingStudy elements.

A PACS/RIS groups them with OBX-4 (Observation Sub-ID): "1" for the first series' attributes, "1.3"
for that series' third instance. Attributes DICOM gives a DCM code are sent with it (110180 Study
Instance UID, 112002 Series Instance UID, 121139 Modality); the others by their DICOM tag in the
locally defined coding system 99DCMTAG (HL7 v2 reserves 99-prefixed names for local systems). The
series UID's OBX-14 is when the series started.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yilian.ingest.errors import DATA_TYPE, REQUIRED_MISSING, IngestError
from yilian.ingest.hl7v2.context import V2Context
from yilian.ingest.hl7v2.message import Segment
from yilian.ingest.hl7v2.types import c, number

DCM = "http://dicom.nema.org/resources/ontology/DCM"
SCT = "http://snomed.info/sct"
STUDY_UID = ("110180", "113014", "STUDY INSTANCE UID", "STUDYUID")
SERIES_UID = ("112002", "SERIES INSTANCE UID")
MODALITY = ("121139", "MODALITY")
# DICOM tag -> (where it goes, its value type)
SERIES_TAGS = {"00200011": "number", "0008103E": "description", "00201209": "numberOfInstances"}
BODY_PART = "00180015"
INSTANCE_TAGS = {"00080018": "uid", "00080016": "sopClass", "00200013": "number"}
NUMBERS = ("number", "numberOfInstances")


@dataclass
class DicomRefs:
    study_uid: str = ""
    modality: str = ""  # the study's, when no series says it
    series: dict[str, dict] = field(default_factory=dict)  # series sub-ID -> ImagingStudy.series
    instances: dict[str, dict[str, dict]] = field(default_factory=dict)  # series -> instance -> element

    def elements(self) -> list[dict]:
        """ImagingStudy.series, each with its instances, in the order sent."""
        out = []
        for sub, series in self.series.items():
            instances = list(self.instances.get(sub, {}).values())
            if instances:
                series["instance"] = instances
            out.append(series)
        return out


def is_dicom(obx: Segment) -> bool:
    ident = _ident(obx)
    return any(x in codes for x in ident for codes in (STUDY_UID, SERIES_UID, MODALITY)) or (
        c(obx.reps(3)[0], 3).upper() == "99DCMTAG" if obx.reps(3) else False
    )


def read_dicom(ctx: V2Context, obx_segments: list[Segment]) -> DicomRefs:
    refs = DicomRefs()
    for n, obx in enumerate(obx_segments, start=1):
        ident, sub = _ident(obx), obx.get(4)
        where = f"OBX^{n}"
        if any(x in STUDY_UID for x in ident):
            refs.study_uid = obx.get(5)
        elif any(x in MODALITY for x in ident):
            if sub:
                _series(refs, sub, where)["modality"] = _modality(obx)
            else:
                refs.modality = obx.get(5).upper()
        elif any(x in SERIES_UID for x in ident):
            series = _series(refs, sub or "1", where)
            series["uid"] = _need(obx, where)
            if started := ctx.time(obx, 14):
                series["started"] = started
        elif ident[0] in SERIES_TAGS:
            _put(_series(refs, sub or "1", where), SERIES_TAGS[ident[0]], obx, where)
        elif ident[0] == BODY_PART:
            site = obx.reps(5)[0] if obx.reps(5) else []
            body = {"system": SCT if c(site, 3).upper() in ("SCT", "SNM") else "", "code": c(site, 1)}
            if c(site, 2):
                body["display"] = c(site, 2)
            _series(refs, sub or "1", where)["bodySite"] = {k: v for k, v in body.items() if v}
        elif ident[0] in INSTANCE_TAGS:
            series_sub, _, instance_sub = sub.partition(".")
            if not instance_sub:
                raise IngestError(
                    f"{where}-4 must name the series and the instance (as 1.3), not {sub!r}",
                    location=f"{where}-4",
                    code=DATA_TYPE,
                )
            instance = refs.instances.setdefault(series_sub, {}).setdefault(instance_sub, {})
            _put(instance, INSTANCE_TAGS[ident[0]], obx, where)
    _check(refs)
    return refs


def _ident(obx: Segment) -> tuple[str, str]:
    return (obx.get(3) or "").upper(), (obx.get(3, 2) or "").upper().replace(" ", "")


def _series(refs: DicomRefs, sub: str, where: str) -> dict:
    if "." in sub:
        raise IngestError(
            f"{where}-4 {sub!r} names an instance; a series attribute needs the series alone",
            location=f"{where}-4",
            code=DATA_TYPE,
        )
    return refs.series.setdefault(sub, {})


def _modality(obx: Segment) -> dict:
    rep = obx.reps(5)[0] if obx.reps(5) else []
    out = {"system": DCM, "code": c(rep, 1).upper()}
    if c(rep, 2):
        out["display"] = c(rep, 2)
    return out


def _need(obx: Segment, where: str) -> str:
    value = obx.get(5)
    if not value:
        raise IngestError(f"{where}-5 (a DICOM UID) is empty", location=f"{where}-5", code=REQUIRED_MISSING)
    return value


def _put(element: dict, name: str, obx: Segment, where: str) -> None:
    value = _need(obx, where)
    if name in NUMBERS:
        element[name] = int(number(value, f"{where}-5"))
    elif name == "sopClass":
        element[name] = {"system": "urn:ietf:rfc:3986", "code": f"urn:oid:{value}"}
    else:
        element[name] = value


def _check(refs: DicomRefs) -> None:
    """A series needs its UID and modality, an instance its UID and SOP class (FHIR requires them)."""
    needed = {"uid": "Series Instance UID (112002)", "modality": "Modality (121139)"}
    for sub, series in refs.series.items():
        for name, what in needed.items():
            if name not in series:
                raise IngestError(
                    f"Series {sub} of the study has no {what}",
                    location="OBX",
                    code=REQUIRED_MISSING,
                )
    for sub, instances in refs.instances.items():
        if sub not in refs.series:
            raise IngestError(
                f"Instances are sent for series {sub}, which has no OBX of its own", location="OBX"
            )
        for n, instance in instances.items():
            if "uid" not in instance or "sopClass" not in instance:
                raise IngestError(
                    f"Instance {sub}.{n} needs its SOP Instance UID (00080018) and SOP Class UID (00080016)",
                    location="OBX",
                    code=REQUIRED_MISSING,
                )
