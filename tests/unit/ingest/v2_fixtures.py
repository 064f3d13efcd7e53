"""Small HL7 v2 messages for the ingest tests, in the shape the demo hospitals send."""

from __future__ import annotations

MRN_OID = "2.16.156.10011.1.2.1"
PID = (
    f"PID|1||A1001^^^&{MRN_OID}&ISO^MR~330108195802011235^^^&2.16.156.10011.1.12&ISO^NI||张^伟^^^^^L||"
    "19580201|M|||江南大道1号^^滨江市^浙江省^310051^CN^H^^滨江区||13800001234^PRN^CP"
)


def msh(kind: str, control: str, when: str = "20260301093000+0800", charset: str = "UNICODE UTF-8") -> str:
    return f"MSH|^~\\&|LIS|m-a|YILIAN|ALLIANCE|{when}||{kind}|{control}|P|2.5.1|||||CHN|{charset}"


def oru(
    control: str = "C1", *, glucose: str = "9.8", status: str = "F", extra: str = "", pid: str = PID
) -> str:
    segments = [
        msh("ORU^R01^ORU_R01", control),
        pid,
        "PV1|1|O|||||||||||||||||A1001-001",
        "ORC|RE|R100|R100||CM",
        "OBR|1|R100|R100|SHQX^生化检查^L|||20260301083000+0800|||||||||||||||20260301093000+0800|||F",
        f"OBX|1|NM|GLU^空腹血糖^L||{glucose}|mmol/L^^UCUM|3.9-6.1|H|||{status}|||20260301083000+0800",
        f"OBX|2|NM|K^钾^L||4.2|mmol/L^^UCUM|3.5-5.3||||{status}|||20260301083000+0800",
    ]
    if extra:
        segments.append(extra)
    return "\r".join(segments) + "\r"


def adt(control: str = "A1", event: str = "A04", *, pid: str = PID, extra: tuple[str, ...] = ()) -> str:
    return (
        "\r".join(
            [
                msh(f"ADT^{event}^ADT_A01", control),
                f"EVN|{event}|20260301080000+0800",
                pid,
                "PV1|1|O|||||S01^李^明||||||||||||A1001-001|||||||||||||||||||||||||20260301080000+0800",
                *extra,
            ]
        )
        + "\r"
    )


CODES = {
    "lab": {
        "GLU": ("空腹血糖", [{"system": "http://loinc.org", "code": "14771-0"}]),
        "SHQX": ("生化检查", [{"system": "http://loinc.org", "code": "24323-8"}]),
    }
}
