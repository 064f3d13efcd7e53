"""What a hospital's systems send for one patient: HL7 v2.5.1 messages written from the care the demo
generated (the FHIR Bundle is the truth; these messages are what the wire carries).

Before any of them, its personnel system (HRP) sends its roster as a staff master file, MFN^M02: an
MFE/STF/PRA/ORG record per clinician (staff number, name, sex, birth date, phone, staff type, department,
job title 职称, since when), so every clinician the clinical messages name arrives with sex and title.

Per visit: ADT^A04 (outpatient, emergency) or ADT^A01 (admission) when it starts; ORU^R01 from the
LIS for each lab report, MDM^T02 from PACS/RIS for each imaging report, RDE^O11 from the pharmacy
system for each prescription; then ADT^A08 or ADT^A03 closing it, with the diagnoses (DG1),
procedures (PR1), allergies (AL1) and vital signs (OBX) recorded during it. Codes are the hospital's
own (see local_codes); every message is in UTF-8 and says so in MSH-18.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from yilian.alliance.codes import RESIDENT_ID
from yilian.demo import local_codes as lc
from yilian.demo.emit_index import Index, by_loinc, drug_key, imaging_key, key_of, roster
from yilian.demo.staff import DEPARTMENTS
from yilian.ingest.hl7v2.ack import escape

CLASS = {"AMB": "O", "EMER": "E", "IMP": "I"}
ROUTE = {"26643006": "PO", "34206005": "SC", "447694001": "IH"}
FREQ = {1: "QD", 2: "BID", 3: "TID", 4: "QID"}
ORDER_TYPE = {"outpatient": "O", "inpatient": "I", "discharge": "D"}
SEX = {"male": "M", "female": "F"}
ROSTER_SENT = "2021-12-31T20:00:00+08:00"  # the rosters go out before the history starts (2022)


@dataclass
class Sent:
    text: str
    sent_at: float  # when the member's system sent it (MSH-7 plus the interface's lag)


@dataclass
class HospitalFeed:
    member_id: str
    rng: random.Random
    counter: int = 0
    out: list[Sent] = field(default_factory=list)

    def control_id(self) -> str:
        self.counter += 1
        return f"{self.member_id.split('-')[-2][:3].upper()}{self.member_id[-1]}{self.counter:07d}"

    def send(self, kind: str, app: str, when: str, segments: list[str], lag_minutes: tuple[int, int]) -> None:
        text = self.message(kind, app, when, segments)
        sent = _seconds(when) + 60 * self.rng.randint(*lag_minutes) + self.rng.randint(0, 59)
        self.out.append(Sent(text, sent))

    def message(self, kind: str, app: str, when: str, segments: list[str]) -> str:
        msh = (
            f"MSH|^~\\&|{app}|{self.member_id}|YILIAN|ALLIANCE|{v2_time(when)}||{kind}|{self.control_id()}|P|2.5.1"
            "|||||CHN|UNICODE UTF-8"
        )
        return "\r".join([msh, *segments]) + "\r"


def v2_time(when: str | None) -> str:
    """A FHIR date/dateTime as an HL7 TS (+0800 kept)."""
    if not when:
        return ""
    if "T" not in when:
        return when.replace("-", "")
    dt = datetime.fromisoformat(when)
    return dt.strftime("%Y%m%d%H%M%S") + dt.strftime("%z")


def _seconds(when: str) -> float:
    return datetime.fromisoformat(when if "T" in when else f"{when}T12:00:00+08:00").timestamp()


def f(*components: object) -> str:
    """One field from its components (escaped, trailing empties dropped)."""
    parts = [escape(str(c)) if c not in (None, "") else "" for c in components]
    while parts and not parts[-1]:
        parts.pop()
    return "^".join(parts)


def seg(name: str, *fields: str) -> str:
    values = list(fields)
    while values and not values[-1]:
        values.pop()
    return "|".join([name, *values])


# --- segments ------------------------------------------------------------------------------------


def pid(patient: dict) -> str:
    ids = []
    for ident in patient["identifier"]:
        kind = "NI" if ident["system"] == RESIDENT_ID else "MR"
        oid = ident["system"].removeprefix("urn:oid:")
        ids.append(f"{escape(ident['value'])}^^^&{oid}&ISO^{kind}")
    name = patient["name"][0]
    xpn = f(
        name.get("family", ""),
        (name.get("given") or [""])[0],
        "",
        "",
        "",
        "",
        "L" if name["use"] == "official" else "D",
    )
    addr = patient["address"][0]
    xad = f(
        addr["line"][0],
        "",
        addr.get("city"),
        addr.get("state"),
        addr.get("postalCode"),
        "CN",
        "H",
        "",
        addr.get("district"),
    )
    phones = [
        f(t["value"], "PRN", "CP" if t.get("use") == "mobile" else "PH") for t in patient.get("telecom", [])
    ]
    sex = {"male": "M", "female": "F"}.get(patient.get("gender", ""), "U")
    return seg(
        "PID",
        "1",
        "",
        "~".join(ids),
        "",
        xpn,
        "",
        patient["birthDate"].replace("-", ""),
        sex,
        "",
        "",
        xad,
        "",
        "~".join(phones),
    )


def xcn(index: Index, ref: dict | None) -> str:
    staff = index.staff(ref)
    return f(staff[0], staff[1], staff[2]) if staff else ""


def pv1(index: Index, enc: dict, visit_no: str, *, closed: bool) -> str:
    cls = CLASS.get(enc["class"]["code"], "O")
    vtype = key_of("visit", enc["type"][0])
    fields = [""] * 45
    fields[0], fields[1] = "1", cls
    if vtype:
        fields[3] = f(lc.simple_code(index.member_id, "visit-type", vtype), enc["type"][0].get("text"), "L")
    attending = enc.get("participant", [{}])[0].get("individual")
    fields[6] = xcn(index, attending)
    fields[18] = visit_no
    fields[43] = v2_time(enc["period"]["start"])
    if closed:
        fields[44] = v2_time(enc["period"].get("end"))
    return seg("PV1", *fields)


def short_pv1(visit_no: str, cls: str) -> str:
    fields = [""] * 19
    fields[0], fields[1], fields[18] = "1", cls, visit_no
    return seg("PV1", *fields)


def obx(i: int, index: Index, obs: dict, code: str, text: str, system: str) -> list[str]:
    """OBX for an Observation (a blood-pressure panel becomes two); a clinician who measured it is the
    responsible observer (OBX-16)."""
    when = v2_time(obs.get("effectiveDateTime"))
    if "component" in obs:
        out = []
        for j, part in enumerate(obs["component"]):
            loinc = part["code"]["coding"][0]["code"]
            key = "sbp" if loinc == "8480-6" else "dbp"
            out += obx(
                i + j,
                index,
                {
                    **part,
                    "effectiveDateTime": obs.get("effectiveDateTime"),
                    "status": "final",
                    "performer": obs.get("performer"),
                },
                *_code(index, key, part["code"], system),
            )
        return out
    q = obs.get("valueQuantity", {})
    flag = (
        obs.get("interpretation", [{}])[0].get("coding", [{}])[0].get("code", "")
        if obs.get("interpretation")
        else ""
    )
    return [
        seg(
            "OBX",
            str(i),
            "NM",
            f(code, text, system),
            "",
            str(q.get("value", "")),
            f(q.get("code", ""), "", "UCUM"),
            _range(obs),
            flag,
            "",
            "",
            "F",
            "",
            "",
            when,
            "",
            xcn(index, (obs.get("performer") or [None])[0]),
        )
    ]


def _code(index: Index, key: str, concept: dict, system: str) -> tuple[str, str, str]:
    if system == "LN":
        return concept["coding"][0]["code"], concept.get("text", ""), "LN"
    return lc.lab_code(index.member_id, key), concept.get("text", ""), "L"


def _range(obs: dict) -> str:
    rr = (obs.get("referenceRange") or [{}])[0]
    low, high = rr.get("low", {}).get("value"), rr.get("high", {}).get("value")
    if low is not None and high is not None:
        return f"{low}-{high}"
    if high is not None:
        return f"<{high}"
    return f">{low}" if low is not None else ""


# --- messages -----------------------------------------------------------------------------------


def staff_master_file(feed: HospitalFeed, roster_bundle: dict) -> None:
    """MFN^M02 with the hospital's whole roster, sent a minute after ROSTER_SENT (no draw from the
    feed's random generator, so the clinical messages' arrival times stay as they were)."""
    m = feed.member_id
    segments = [seg("MFI", f("STF", "Staff", "HL70175"), "", "UPD", "", "", "AL")]
    for n, s in enumerate(roster(roster_bundle), start=1):
        key, staff_type = f(s.key, s.name, "L"), lc.staff_type_code(m, s.role)
        department = f(lc.department_code(m, s.department), DEPARTMENTS[s.department][2], "L")
        name = f(s.family, s.given, "", "", "", "", "L")
        status, phone = "A" if s.active else "I", f(s.phone, "WPN", "CP")
        stf = [key, f(s.key, "", "", m, "EI"), name, staff_type, SEX[s.sex], v2_time(s.birth_date), status]
        stf += [department, "", phone, *[""] * 7, f(s.title)]  # STF-8 to STF-18 (job title)
        segments += [
            seg("MFE", "MAD", f"R{n:04d}", "", key, "CWE"),
            seg("STF", *stf),
            seg("PRA", key, "", staff_type),
            seg("ORG", "1", department, "", "Y", "", "", "", "", v2_time(s.since)),
        ]
    text = feed.message("MFN^M02^MFN_M02", "HRP", ROSTER_SENT, segments)
    feed.out.append(Sent(text, _seconds(ROSTER_SENT) + 60))


def hospital_messages(member_id: str, bundle: dict, rng: random.Random, feed: HospitalFeed) -> None:
    index = Index(member_id, bundle)
    patient = index.patient
    for n, enc_url in enumerate(index.encounters(), start=1):
        enc = index.by_url[enc_url]
        visit_no = f"{index.mrn}-{n:03d}"
        admit = enc["class"]["code"] == "IMP"
        feed.send(
            "ADT^A01^ADT_A01" if admit else "ADT^A04^ADT_A01",
            "HIS",
            enc["period"]["start"],
            [
                seg("EVN", "A01" if admit else "A04", v2_time(enc["period"]["start"])),
                pid(patient),
                pv1(index, enc, visit_no, closed=False),
            ],
            (0, 2),
        )
        cls = CLASS.get(enc["class"]["code"], "O")
        for report in index.of("DiagnosticReport", enc_url):
            if report["category"][0]["coding"][0]["code"] == "LAB":
                _oru(feed, index, report, visit_no, cls)
            else:
                _mdm(feed, index, report, visit_no, cls)
        for n_rx, mr in enumerate(index.of("MedicationRequest", enc_url), start=1):
            _rde(feed, index, mr, f"{visit_no}-RX{n_rx}", visit_no, cls)
        _close(feed, index, enc, enc_url, visit_no, admit)


def _oru(feed: HospitalFeed, index: Index, report: dict, visit_no: str, cls: str) -> None:
    m = index.member_id
    panel = key_of("panel", report["code"])
    order = f"{visit_no}-L{index.next('lab')}"
    obr = [""] * 32
    obr[0], obr[1], obr[2] = "1", order, order
    obr[3] = f(lc.panel_code(m, panel), report["code"].get("text"), "L")
    obr[6], obr[21], obr[24] = v2_time(report["effectiveDateTime"]), v2_time(report["issued"]), "F"
    interpreter = index.staff(report.get("resultsInterpreter", [None])[0])
    if interpreter:
        obr[31] = "&".join(escape(x) for x in interpreter)
    segments = [
        pid(index.patient),
        short_pv1(visit_no, cls),
        seg("ORC", "RE", order, order, "", "CM"),
        seg("OBR", *obr),
    ]
    for i, ref in enumerate(report.get("result", []), start=1):
        obs = index.by_url[ref["reference"]]
        key = by_loinc(obs["code"])
        segments += obx(i, index, obs, lc.lab_code(m, key), obs["code"].get("text", ""), "L")
    feed.send("ORU^R01^ORU_R01", "LIS", report["issued"], segments, (1, 15))


def _mdm(feed: HospitalFeed, index: Index, report: dict, visit_no: str, cls: str) -> None:
    study = index.by_url[report["imagingStudy"][0]["reference"]]
    exam = imaging_key(report["code"])
    number = f"{visit_no}-I{index.next('image')}"
    radiologist = xcn(index, report.get("resultsInterpreter", [None])[0])
    txa = [""] * 22
    txa[0], txa[1], txa[2], txa[3] = "1", "DI", "TX", v2_time(report["issued"])
    txa[8], txa[11], txa[16], txa[21] = radiologist, number, "AU", radiologist
    obr = [""] * 24
    obr[0], obr[1], obr[2] = "1", number, number
    obr[3] = f(lc.exam_code(index.member_id, exam), report["code"].get("text"), "L")
    obr[6], obr[15], obr[23] = (
        v2_time(report["effectiveDateTime"]),
        xcn(index, study.get("referrer")),
        study["modality"][0]["code"],
    )
    uid = study["identifier"][0]["value"].removeprefix("urn:oid:")
    segments = [
        seg("EVN", "T02", v2_time(report["issued"])),
        pid(index.patient),
        short_pv1(visit_no, cls),
        seg("TXA", *txa),
        seg("OBR", *obr),
        seg("OBX", "1", "ST", f("110180", "Study Instance UID", "DCM"), "", uid),
        *_series_obx(study, start=2),
    ]
    segments.append(
        seg(
            "OBX",
            str(len(segments) - 4),
            "TX",
            f("REPORT", "影像诊断", "L"),
            "",
            escape(report["conclusion"]),
            "",
            "",
            "",
            "",
            "",
            "F",
        )
    )
    feed.send("MDM^T02^MDM_T02", "PACS", report["issued"], segments, (5, 40))


# DICOM attributes without a DCM code, named by their tag in a locally defined (99-) coding system.
DICOM_TAG = "99DCMTAG"


def _series_obx(study: dict, start: int) -> list[str]:
    """The study's series and instances as OBX groups: OBX-4 is "<series>" for a series' attributes,
    "<series>.<instance>" for an instance's; the series UID's OBX-14 is when the series started."""
    out: list[str] = []

    def add(kind: str, code: tuple[str, str, str], sub: str, value: str, when: str = "") -> None:
        fields = [str(start + len(out)), kind, f(*code), sub, value]
        if when:
            fields += [""] * 8 + [when]
        out.append(seg("OBX", *fields))

    for n, series in enumerate(study.get("series", []), start=1):
        sub = str(n)
        add(
            "ST", ("112002", "Series Instance UID", "DCM"), sub, series["uid"], v2_time(series.get("started"))
        )
        modality = series["modality"]
        add("CWE", ("121139", "Modality", "DCM"), sub, f(modality["code"], modality.get("display"), "DCM"))
        add("NM", ("00200011", "Series Number", DICOM_TAG), sub, str(series["number"]))
        add("ST", ("0008103E", "Series Description", DICOM_TAG), sub, escape(series.get("description", "")))
        add(
            "NM",
            ("00201209", "Number of Series Related Instances", DICOM_TAG),
            sub,
            str(series["numberOfInstances"]),
        )
        if site := series.get("bodySite"):
            add(
                "CWE",
                ("00180015", "Body Part Examined", DICOM_TAG),
                sub,
                f(site["code"], site.get("display"), "SCT"),
            )
        for i, instance in enumerate(series.get("instance", []), start=1):
            at = f"{sub}.{i}"
            add("ST", ("00080018", "SOP Instance UID", DICOM_TAG), at, instance["uid"])
            sop_class = instance["sopClass"]["code"].removeprefix("urn:oid:")
            add("ST", ("00080016", "SOP Class UID", DICOM_TAG), at, sop_class)
            add("NM", ("00200013", "Instance Number", DICOM_TAG), at, str(instance["number"]))
    return out


def _rde(feed: HospitalFeed, index: Index, mr: dict, number: str, visit_no: str, cls: str) -> None:
    drug = drug_key(mr["medicationCodeableConcept"])
    dosage = mr["dosageInstruction"][0]
    dose = dosage["doseAndRate"][0]["doseQuantity"]
    per_day = dosage["timing"]["repeat"]["frequency"]
    orc = [""] * 29
    orc[0], orc[1], orc[4] = "NW", number, "IP" if mr["status"] == "active" else "CM"
    orc[8], orc[11] = v2_time(mr["authoredOn"]), xcn(index, mr.get("requester"))
    orc[28] = ORDER_TYPE.get(mr["category"][0]["coding"][0]["code"], "O")
    rxe = [
        f("", FREQ.get(per_day, "QD")),
        f(lc.drug_code(index.member_id, drug), mr["medicationCodeableConcept"]["text"], "L"),
        str(dose["value"]),
        "",
        f(dose["code"], dose["unit"]),
        "",
        f("", dosage["text"]),
    ]
    days = mr["dispenseRequest"]["expectedSupplyDuration"]["value"]
    route = ROUTE.get(dosage["route"]["coding"][0]["code"], "PO")
    segments = [
        pid(index.patient),
        short_pv1(visit_no, cls),
        seg("ORC", *orc),
        seg("RXE", *rxe),
        seg("TQ1", "1", "", FREQ.get(per_day, "QD"), "", "", f(days, "d")),
        seg("RXR", route),
    ]
    feed.send("RDE^O11^RDE_O11", "HIS", mr["authoredOn"], segments, (0, 1))


def _close(feed: HospitalFeed, index: Index, enc: dict, enc_url: str, visit_no: str, admit: bool) -> None:
    m = index.member_id
    segments = [
        seg("EVN", "A03" if admit else "A08", v2_time(enc["period"].get("end"))),
        pid(index.patient),
        pv1(index, enc, visit_no, closed=True),
    ]
    for i, cond in enumerate(index.of("Condition", enc_url), start=1):
        code, system = lc.diagnosis_code(m, key_of("diagnosis", cond["code"]))
        segments.append(
            seg(
                "DG1",
                str(i),
                "",
                f(code, cond["code"].get("text"), system),
                "",
                v2_time(cond.get("recordedDate")),
                "F",
                *[""] * 9,
                xcn(index, cond.get("recorder")),
            )
        )
    for i, allergy in enumerate(index.of("AllergyIntolerance", enc_url), start=1):
        key = key_of("allergen", allergy["code"])
        reaction = allergy["reaction"][0]["manifestation"][0].get("text", "")
        segments.append(
            seg(
                "AL1",
                str(i),
                "DA",
                f(lc.simple_code(m, "allergen", key), allergy["code"].get("text"), "L"),
                "SV" if allergy.get("criticality") == "high" else "MO",
                escape(reaction),
                v2_time(allergy.get("recordedDate"))[:8],
            )
        )
    for i, proc in enumerate(index.of("Procedure", enc_url), start=1):
        key = key_of("procedure", proc["code"])
        performer = proc.get("performer", [{}])[0].get("actor")
        segments.append(
            seg(
                "PR1",
                str(i),
                "",
                f(lc.simple_code(m, "procedure", key), proc["code"].get("text"), "L"),
                "",
                v2_time(proc.get("performedDateTime")),
                *[""] * 6,
                xcn(index, performer),
            )
        )
    n = 0
    for obs in index.vitals(enc_url):
        loinc = obs["code"]["coding"][0]["code"]
        lines = obx(n + 1, index, obs, loinc, obs["code"].get("text", ""), "LN")
        segments += lines
        n += len(lines)
    end = enc["period"].get("end") or enc["period"]["start"]
    feed.send("ADT^A03^ADT_A03" if admit else "ADT^A08^ADT_A01", "HIS", end, segments, (0, 30))
