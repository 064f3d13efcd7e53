"""What a community health centre's public-health system exports: weekly CSV files (patients, visits,
diagnoses, results, prescriptions, contracts, vaccinations, procedures, allergies), written from the care
the demo generated, and its staff (人员信息: the roster, with sex, title, department) in the first week's.

Two vendors: one writes Chinese column names in UTF-8 with a BOM, the other pinyin abbreviations in
GB 18030 with its own gender codes and date format. Each centre's TOML mapping (`mapping_toml`) tells
Yilian which column is which, and carries the centre's code tables.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import date, datetime, timedelta

from yilian.alliance.codes import RESIDENT_ID
from yilian.demo import local_codes as lc
from yilian.demo.emit_index import Index, by_loinc, drug_key, key_of, roster
from yilian.demo.staff import DEPARTMENTS

KINDS = (
    "staff",
    "patients",
    "visits",
    "diagnoses",
    "results",
    "prescriptions",
    "contracts",
    "vaccinations",
    "procedures",
    "allergies",
)
FILE_NAMES = {
    "staff": "人员信息",
    "patients": "居民档案",
    "visits": "就诊记录",
    "diagnoses": "诊断",
    "results": "检查检验",
    "prescriptions": "用药",
    "contracts": "家庭医生签约",
    "vaccinations": "预防接种",
    "procedures": "操作",
    "allergies": "过敏史",
}
VENDOR_A = {  # Chinese column names
    "staff": {
        "staff_no": "工号",
        "name": "姓名",
        "gender": "性别",
        "birth_date": "出生日期",
        "phone": "手机号码",
        "title": "职称",
        "role": "人员类别",
        "department_code": "科室代码",
        "department": "科室名称",
        "start": "入职日期",
        "active": "在岗状态",
    },
    "patients": {
        "mrn": "健康档案编号",
        "name": "姓名",
        "gender": "性别",
        "birth_date": "出生日期",
        "resident_id": "身份证号",
        "phone": "手机号码",
        "home_phone": "固定电话",
        "address": "现住址",
        "province": "省",
        "city": "市",
        "district": "区县",
        "postcode": "邮编",
    },
    "visits": {
        "visit_no": "就诊流水号",
        "mrn": "健康档案编号",
        "start": "就诊开始时间",
        "end": "就诊结束时间",
        "class": "就诊类别",
        "type_code": "就诊类型代码",
        "type_name": "就诊类型",
        "doctor_id": "医生工号",
        "doctor_name": "医生姓名",
    },
    "diagnoses": {
        "diagnosis_no": "诊断序号",
        "mrn": "健康档案编号",
        "visit_no": "就诊流水号",
        "code": "疾病编码",
        "name": "疾病名称",
        "code_system": "编码体系",
        "recorded_at": "诊断时间",
        "onset": "发病日期",
        "resolved": "治愈日期",
        "doctor_id": "医生工号",
        "doctor_name": "医生姓名",
        "category": "诊断类别",
    },
    "results": {
        "report_no": "报告单号",
        "mrn": "健康档案编号",
        "visit_no": "就诊流水号",
        "item_code": "项目代码",
        "item_name": "项目名称",
        "value": "结果",
        "unit": "单位",
        "range": "参考范围",
        "flag": "异常标识",
        "observed_at": "检测时间",
        "reported_at": "报告时间",
        "panel_code": "组合代码",
        "panel_name": "组合名称",
        "category": "类别",
        "performer_id": "测量人工号",
        "performer_name": "测量人",
        "reporter_id": "报告医生工号",
        "reporter_name": "报告医生",
    },
    "prescriptions": {
        "rx_no": "处方号",
        "mrn": "健康档案编号",
        "visit_no": "就诊流水号",
        "drug_code": "药品代码",
        "drug_name": "药品名称",
        "dose": "单次剂量",
        "dose_unit": "剂量单位",
        "frequency": "频次",
        "route": "用法",
        "days": "天数",
        "instructions": "用法用量",
        "prescribed_at": "开具时间",
        "doctor_id": "医生工号",
        "doctor_name": "医生姓名",
        "status": "状态",
        "type": "类型",
        "since": "开始用药日期",
    },
    "contracts": {
        "contract_no": "签约编号",
        "mrn": "健康档案编号",
        "programme": "服务包",
        "title": "签约项目",
        "start": "生效日期",
        "status": "签约状态",
        "doctor_id": "家庭医生工号",
        "doctor_name": "家庭医生",
        "signed_at": "签约时间",
        "description": "服务内容",
    },
    "vaccinations": {
        "vaccination_no": "接种编号",
        "mrn": "健康档案编号",
        "vaccine_code": "疫苗代码",
        "vaccine_name": "疫苗名称",
        "date": "接种时间",
        "lot": "批号",
        "dose": "剂量",
        "site": "接种部位",
        "route": "接种途径",
        "nurse_id": "接种人员工号",
        "nurse_name": "接种人员",
    },
    "procedures": {
        "procedure_no": "操作编号",
        "mrn": "健康档案编号",
        "visit_no": "就诊流水号",
        "code": "操作代码",
        "name": "操作名称",
        "date": "操作时间",
        "doctor_id": "医生工号",
        "doctor_name": "医生姓名",
    },
    "allergies": {
        "allergy_no": "过敏记录编号",
        "mrn": "健康档案编号",
        "visit_no": "就诊流水号",
        "allergen_code": "过敏原代码",
        "allergen_name": "过敏原",
        "category": "过敏类别",
        "criticality": "危险程度",
        "reaction_code": "过敏反应代码",
        "reaction_name": "过敏反应",
        "severity": "反应严重程度",
        "status": "状态",
        "recorded_at": "记录时间",
        "doctor_id": "医生工号",
        "doctor_name": "医生姓名",
    },
}
PINYIN = {
    "健康档案编号": "JKDABH",
    "姓名": "XM",
    "性别": "XB",
    "出生日期": "CSRQ",
    "身份证号": "SFZH",
    "手机号码": "SJHM",
    "固定电话": "GDDH",
    "现住址": "XZZ",
    "省": "SHENG",
    "市": "SHI",
    "区县": "QX",
    "邮编": "YB",
    "工号": "GH",
    "职称": "ZC",
    "人员类别": "RYLB",
    "科室代码": "KSDM",
    "科室名称": "KSMC",
    "入职日期": "RZRQ",
    "在岗状态": "ZGZT",
}


def _vendor_b(columns: dict[str, str]) -> dict[str, str]:
    """The other vendor: pinyin-initial column names (健康档案编号 -> JKDABH...), no code-system column."""
    out = {}
    for field, col in columns.items():
        if field == "code_system":
            continue
        out[field] = PINYIN.get(col) or f"{field.upper().replace('_', '')}"
    return out


VENDOR_B = {kind: _vendor_b(cols) for kind, cols in VENDOR_A.items()}


def vendor_of(member_id: str) -> str:
    return "B" if member_id[-1] in "24" else "A"


def mrn_system(number: int) -> str:
    return f"urn:oid:2.16.156.10011.1.2.{number}"


def mapping_toml(member_id: str, member_number: int) -> str:
    """The centre's mapping file: its files, columns, value codes and code tables."""
    vendor = vendor_of(member_id)
    layout = VENDOR_B if vendor == "B" else VENDOR_A
    lines = [
        f"member = {json.dumps(member_id)}",
        f"encoding = {json.dumps('gb18030' if vendor == 'B' else 'utf-8')}",
        f"mrn_system = {json.dumps(mrn_system(member_number))}",
        "",
    ]
    for kind in KINDS:
        lines += [f"[files.{kind}]", f"match = {json.dumps('*' + FILE_NAMES[kind] + '*')}"]
        if kind == "results":
            lines.append('group_by = "report_no"')
        if kind == "diagnoses" and vendor == "B":
            lines.append('defaults = { code_system = "ICD10" }')
        lines.append(f"[files.{kind}.columns]")
        lines += [f"{field} = {json.dumps(col, ensure_ascii=False)}" for field, col in layout[kind].items()]
        if kind in ("patients", "staff") and vendor == "B":
            lines += [f"[files.{kind}.values.gender]", '"1" = "male"', '"2" = "female"']
        if kind == "staff" and vendor == "B":  # its own staff-type codes
            lines.append("[files.staff.values.role]")
            lines += [f'"{lc.staff_type_code(member_id, role)}" = "{role}"' for role in lc.STAFF_TYPES]
        lines.append("")
    for kind, table in lc.code_tables(member_id).items():
        lines.append(f'[codes."{kind}"]')
        for local, (display, codings) in table.items():
            parts = ", ".join(
                f"{{ system = {json.dumps(c['system'])}, code = {json.dumps(c['code'])} }}" for c in codings
            )
            lines.append(
                f"{json.dumps(local)} = {{ display = {json.dumps(display, ensure_ascii=False)}, "
                f"codings = [{parts}] }}"
            )
        lines.append("")
    return "\n".join(lines)


# --- rows ----------------------------------------------------------------------------------------


def _when(value: str | None, vendor: str) -> str:
    if not value:
        return ""
    if "T" not in value:
        return value.replace("-", "/") if vendor == "B" else value
    dt = datetime.fromisoformat(value)
    return dt.strftime("%Y/%m/%d %H:%M" if vendor == "B" else "%Y-%m-%d %H:%M")


def community_rows(member_id: str, bundle: dict) -> dict[str, list[tuple[str, dict]]]:
    """kind -> [(event time, row by field)] for one patient."""
    ix = Index(member_id, bundle)
    v = vendor_of(member_id)
    rows: dict[str, list[tuple[str, dict]]] = defaultdict(list)
    p, mrn = ix.patient, ix.mrn
    visits = {url: f"{mrn}-{n:03d}" for n, url in enumerate(ix.encounters(), start=1)}
    for url, number in visits.items():
        enc = ix.by_url[url]
        staff = ix.staff(enc["participant"][0]["individual"]) or ("", "", "")
        rows["visits"].append(
            (
                enc["period"]["start"],
                {
                    "visit_no": number,
                    "mrn": mrn,
                    "start": _when(enc["period"]["start"], v),
                    "end": _when(enc["period"].get("end"), v),
                    "class": enc["class"]["code"],
                    "type_code": lc.simple_code(member_id, "visit-type", key_of("visit", enc["type"][0])),
                    "type_name": enc["type"][0].get("text", ""),
                    "doctor_id": staff[0],
                    "doctor_name": staff[1] + staff[2],
                },
            )
        )
    _clinical(member_id, ix, visits, v, rows)
    first = min([t[:10] for kind in rows.values() for t, _ in kind] or ["2022-01-01"])
    rows["patients"].append((first, _patient(p, mrn, v)))  # registered in the week of the first record
    return rows


SEX_CODES = {"A": {"male": "男", "female": "女"}, "B": {"male": "1", "female": "2"}}


def staff_rows(member_id: str, roster_bundle: dict) -> list[dict]:
    """The centre's staff export: a row per clinician of its roster (vendor B in its own codes)."""
    v = vendor_of(member_id)
    return [
        {
            "staff_no": s.key,
            "name": s.name,
            "gender": SEX_CODES[v][s.sex],
            "birth_date": _when(s.birth_date, v),
            "phone": s.phone,
            "title": s.title,
            "role": lc.staff_type_code(member_id, s.role) if v == "B" else lc.STAFF_TYPES[s.role],
            "department_code": lc.department_code(member_id, s.department),
            "department": DEPARTMENTS[s.department][2],
            "start": _when(s.since, v),
            "active": ("1" if s.active else "0") if v == "B" else ("在职" if s.active else "离职"),
        }
        for s in roster(roster_bundle)
    ]


def _patient(p: dict, mrn: str, v: str) -> dict:
    addr, name = p["address"][0], p["name"][0]
    phones = {t.get("use"): t["value"] for t in p.get("telecom", [])}
    rid = next((i["value"] for i in p["identifier"] if i["system"] == RESIDENT_ID), "")
    gender = {"male": "1", "female": "2"} if v == "B" else {"male": "男", "female": "女"}
    return {
        "mrn": mrn,
        "name": name["text"],
        "gender": gender[p["gender"]],
        "birth_date": _when(p["birthDate"], v),
        "resident_id": rid,
        "phone": phones.get("mobile", ""),
        "home_phone": phones.get("home", ""),
        "address": addr["line"][0],
        "province": addr.get("state", ""),
        "city": addr.get("city", ""),
        "district": addr.get("district", ""),
        "postcode": addr.get("postalCode", ""),
    }


def _staff(ix: Index, ref: dict | None) -> tuple[str, str]:
    s = ix.staff(ref)
    return (s[0], s[1] + s[2]) if s else ("", "")


def _clinical(m: str, ix: Index, visits: dict[str, str], v: str, rows: dict) -> None:
    mrn = ix.mrn
    for n, (url, r) in enumerate(ix.by_url.items()):
        rtype, visit = r["resourceType"], visits.get(r.get("encounter", {}).get("reference", ""), "")
        if rtype == "Condition":
            doc = _staff(ix, r.get("recorder"))
            rows["diagnoses"].append(
                (
                    r.get("recordedDate") or r["onsetDateTime"],
                    {
                        "diagnosis_no": f"{mrn}-D{n}",
                        "mrn": mrn,
                        "visit_no": visit,
                        "code": r["code"]["coding"][0]["code"],
                        "name": r["code"].get("text", ""),
                        "code_system": "ICD10",
                        "recorded_at": _when(r.get("recordedDate"), v),
                        "onset": _when(r.get("onsetDateTime"), v),
                        "resolved": _when(r.get("abatementDateTime"), v),
                        "doctor_id": doc[0],
                        "doctor_name": doc[1],
                        "category": "encounter" if visit else "problem",
                    },
                )
            )
        elif rtype == "DiagnosticReport":
            panel = key_of("panel", r["code"])
            for ref in r["result"]:
                reporter = _staff(ix, (r.get("resultsInterpreter") or [None])[0])
                rows["results"].append(
                    _result(
                        m,
                        ix,
                        ix.by_url[ref["reference"]],
                        f"{visit}-L{n}",
                        visit,
                        v,
                        (lc.panel_code(m, panel), r["code"].get("text", ""), r.get("issued"), *reporter),
                    )
                )
        elif rtype == "Observation" and url not in ix.in_reports:
            rows["results"].append(_result(m, ix, r, f"{visit}-VS", visit, v, None))
        elif rtype in ("MedicationRequest", "MedicationStatement"):
            rows["prescriptions"].append(_medication(m, ix, r, f"{mrn}-RX{n}", visit, v))
        elif rtype == "CarePlan":
            doc = _staff(ix, r.get("author"))
            rows["contracts"].append(
                (
                    r["created"],
                    {
                        "contract_no": f"{mrn}-C{n}",
                        "mrn": mrn,
                        "programme": r["title"],
                        "title": r["title"],
                        "start": _when(r["period"]["start"], v),
                        "status": "1",
                        "doctor_id": doc[0],
                        "doctor_name": doc[1],
                        "signed_at": _when(r["created"], v),
                        "description": r.get("description", ""),
                    },
                )
            )
        elif rtype == "Immunization":
            nurse = _staff(ix, r["performer"][0]["actor"])
            rows["vaccinations"].append(
                (
                    r["occurrenceDateTime"],
                    {
                        "vaccination_no": f"{mrn}-V{n}",
                        "mrn": mrn,
                        "vaccine_code": "YM0150",
                        "vaccine_name": r["vaccineCode"]["text"],
                        "date": _when(r["occurrenceDateTime"], v),
                        "lot": r["lotNumber"],
                        "dose": "0.5",
                        "site": r["site"]["text"],
                        "route": r["route"]["text"],
                        "nurse_id": nurse[0],
                        "nurse_name": nurse[1],
                    },
                )
            )
        elif rtype == "AllergyIntolerance":
            rows["allergies"].append(_allergy(m, ix, r, f"{mrn}-A{n}", visit, v))
        elif rtype == "Procedure":
            doc = _staff(ix, r["performer"][0]["actor"])
            rows["procedures"].append(
                (
                    r["performedDateTime"],
                    {
                        "procedure_no": f"{mrn}-PR{n}",
                        "mrn": mrn,
                        "visit_no": visit,
                        "code": lc.simple_code(m, "procedure", key_of("procedure", r["code"])),
                        "name": r["code"]["text"],
                        "date": _when(r["performedDateTime"], v),
                        "doctor_id": doc[0],
                        "doctor_name": doc[1],
                    },
                )
            )


def _result(
    m: str, ix: Index, obs: dict, report: str, visit: str, v: str, panel: tuple | None
) -> tuple[str, dict]:
    when = obs["effectiveDateTime"]
    base = {
        "report_no": report,
        "mrn": ix.mrn,
        "visit_no": visit,
        "observed_at": _when(when, v),
        "category": "vital" if obs["category"][0]["coding"][0]["code"] == "vital-signs" else "lab",
    }
    if panel:
        base.update(panel_code=panel[0], panel_name=panel[1], reported_at=_when(panel[2], v))
        base.update(reporter_id=panel[3], reporter_name=panel[4])
    measured_by = _staff(ix, (obs.get("performer") or [None])[0])  # a clinician; a lab is the centre
    base.update(performer_id=measured_by[0], performer_name=measured_by[1])
    parts = obs.get("component") or [obs]
    out = []
    for part in parts:
        loinc = part["code"]["coding"][0]["code"]
        key = {"8480-6": "sbp", "8462-4": "dbp"}.get(loinc) or by_loinc(part["code"])
        q = part["valueQuantity"]
        flag = part["interpretation"][0]["coding"][0]["code"] if part.get("interpretation") else ""
        rr = (obs.get("referenceRange") or [{}])[0] if part is obs else {}
        low, high = rr.get("low", {}).get("value"), rr.get("high", {}).get("value")
        rng = (
            f"{low}-{high}"
            if low is not None and high is not None
            else (f"<{high}" if high is not None else "")
        )
        out.append(
            {
                **base,
                "item_code": lc.lab_code(m, key),
                "item_name": part["code"].get("text", ""),
                "value": str(q["value"]),
                "unit": q.get("code", ""),
                "range": rng,
                "flag": flag,
            }
        )
    return when, out  # type: ignore[return-value]


ALLERGY_CATEGORY = {"medication": "药物", "food": "食物", "environment": "环境"}
CRITICALITY = {"high": "高", "low": "低"}
SEVERITY = {"mild": "轻度", "moderate": "中度", "severe": "重度"}


def _allergy(m: str, ix: Index, r: dict, number: str, visit: str, v: str) -> tuple[str, dict]:
    key = key_of("allergen", r["code"])
    reaction = (r.get("reaction") or [{}])[0]
    doc = _staff(ix, r.get("recorder"))
    return r["recordedDate"], {
        "allergy_no": number,
        "mrn": ix.mrn,
        "visit_no": visit,
        "allergen_code": lc.simple_code(m, "allergen", key),
        "allergen_name": r["code"].get("text", ""),
        "category": ALLERGY_CATEGORY[r["category"][0]],
        "criticality": CRITICALITY.get(r.get("criticality", ""), ""),
        "reaction_code": lc.simple_code(m, "reaction", key) if reaction else "",
        "reaction_name": reaction["manifestation"][0].get("text", "") if reaction else "",
        "severity": SEVERITY.get(reaction.get("severity", ""), ""),
        "status": r["clinicalStatus"]["coding"][0]["code"],
        "recorded_at": _when(r["recordedDate"], v),
        "doctor_id": doc[0],
        "doctor_name": doc[1],
    }


def _medication(m: str, ix: Index, r: dict, number: str, visit: str, v: str) -> tuple[str, dict]:
    statement = r["resourceType"] == "MedicationStatement"
    dosage = (r.get("dosage") or r.get("dosageInstruction"))[0]
    dose = dosage["doseAndRate"][0]["doseQuantity"]
    when = r.get("dateAsserted") or r["authoredOn"]
    doc = _staff(ix, r.get("informationSource") or r.get("requester"))
    days = r.get("dispenseRequest", {}).get("expectedSupplyDuration", {}).get("value", "")
    return when, {
        "rx_no": number,
        "mrn": ix.mrn,
        "visit_no": "" if statement else visit,
        "drug_code": lc.drug_code(m, drug_key(r["medicationCodeableConcept"])),
        "drug_name": r["medicationCodeableConcept"]["text"],
        "dose": str(dose["value"]),
        "dose_unit": dose["code"],
        "frequency": {1: "QD", 2: "BID", 3: "TID"}.get(dosage["timing"]["repeat"]["frequency"], "QD"),
        "route": dosage["route"].get("text", ""),
        "days": str(days),
        "instructions": dosage.get("text", ""),
        "prescribed_at": _when(when, v),
        "doctor_id": doc[0],
        "doctor_name": doc[1],
        "status": r["status"],
        "type": "长期用药" if statement else "处方",
        "since": _when(r.get("effectivePeriod", {}).get("start"), v),
    }


# --- weekly files --------------------------------------------------------------------------------


def weekly_exports(
    member_id: str, rows: dict[str, list[tuple[str, dict | list[dict]]]], rng: random.Random
) -> list[tuple[str, bytes, float]]:
    """(file name, bytes, arrival) for each week and kind with rows, exported in the early hours of the
    Monday after the week, in kind order (patients before their visits before their results)."""
    vendor = vendor_of(member_id)
    layout = VENDOR_B if vendor == "B" else VENDOR_A
    weeks: dict[date, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for kind, items in rows.items():
        for when, row in items:
            day = date.fromisoformat(when[:10])
            monday = day + timedelta(days=7 - day.weekday())
            for r in row if isinstance(row, list) else [row]:
                weeks[monday][kind].append(r)
    out = []
    for monday in sorted(weeks):
        arrival = datetime.fromisoformat(f"{monday}T02:00:00+08:00").timestamp() + rng.randint(0, 5400)
        for kind in KINDS:
            if weeks[monday].get(kind):
                name = f"{member_id}_{FILE_NAMES[kind]}_{monday:%Y%m%d}.csv"
                out.append((name, _csv(layout[kind], weeks[monday][kind], vendor), arrival))
    return out


def _csv(columns: dict[str, str], rows: list[dict], vendor: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns.values())
    for r in rows:
        writer.writerow([r.get(field, "") for field in columns])
    text = buf.getvalue()
    return text.encode("gb18030") if vendor == "B" else "\ufeff".encode() + text.encode("utf-8")
