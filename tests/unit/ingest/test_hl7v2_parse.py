"""Decoding and parsing HL7 v2: character sets, line endings, malformed messages, escapes."""

from __future__ import annotations

import pytest
from v2_fixtures import oru

from yilian.ingest.errors import IngestError
from yilian.ingest.hl7v2.decode import charset_of, decode, split_messages
from yilian.ingest.hl7v2.message import Message, unescape


def test_gbk_encoded_chinese_declared_in_msh_18():
    raw = oru().replace("UNICODE UTF-8", "GBK").encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert charset_of(raw) == "gb18030"
    msg = Message(decode(raw).text)
    assert msg.first("PID").get(5) == "张" and msg.first("OBX").get(3, 2) == "空腹血糖"


def test_gbk_without_a_declaration_is_read_as_gb18030():
    raw = oru().replace("|UNICODE UTF-8", "").encode("gb18030")
    decoded = decode(raw)
    assert decoded.charset == "gb18030" and "张^伟" in decoded.text


def test_line_feeds_bom_and_framing_are_tolerated():
    raw = b"\x0b\xef\xbb\xbf" + oru().replace("\r", "\r\n").encode() + b"\x1c\r"
    (text,) = split_messages(decode(raw).text)
    assert Message(text).name == "ORU^R01" and len(Message(text).segments) == 7


def test_a_file_of_several_messages_with_batch_segments():
    text = "FHS|^~\\&\rBHS|^~\\&\r" + oru("C1") + oru("C2") + "BTS|2\rFTS|1\r"
    assert [Message(m).control_id for m in split_messages(text)] == ["C1", "C2"]


def test_truncated_header_is_refused_with_its_location():
    with pytest.raises(IngestError) as err:
        Message("MSH|^~\\&|LIS|m-a|YILIAN|ALLIANCE|20260301")
    assert err.value.location == "MSH-9" and "truncated" in err.value.message


def test_truncated_body_is_refused_when_mapping_needs_what_is_missing():
    from yilian.ingest.codes import CodeMap
    from yilian.ingest.hl7v2.mapper import map_message

    cut = oru().split("\rOBR")[0].replace("\rPID", "\rPV1|1|O")  # no PID, no OBR/OBX
    with pytest.raises(IngestError) as err:
        map_message(Message(cut), "m-a", CodeMap("m-a"))
    assert err.value.location == "PID"


def test_wrong_encoding_characters_are_refused():
    for bad in ("MSH|^~|", "MSH|ab\\&|", "MSH|^^\\&|"):
        text = oru().replace("MSH|^~\\&|", bad, 1)
        with pytest.raises(IngestError) as err:
            Message(text)
        assert err.value.location == "MSH-2", bad


def test_segments_that_are_not_segments_are_refused():
    with pytest.raises(IngestError, match="segment id"):
        Message(oru() + "this is not a segment\r")
    with pytest.raises(IngestError, match="before any MSH"):
        split_messages("PID|1||X\r" + oru())


def test_unknown_and_z_segments_are_kept_and_ignored():
    msg = Message(oru(extra="ZPI|1|自定义字段") + "XYZ|1|2\r")
    assert [s.id for s in msg.segments][-2:] == ["ZPI", "XYZ"]


def test_unsupported_version_and_missing_control_id():
    with pytest.raises(IngestError, match="not supported"):
        Message(oru().replace("|P|2.5.1|", "|P|3.0|"))
    with pytest.raises(IngestError, match="MSH-10"):
        Message(oru(control=""))


def test_escape_sequences():
    seps = "\r|~^&"
    assert unescape("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "\\", seps) == "a|b^c&d~e\\f"
    assert unescape("第一行\\.br\\第二行", "\\", seps) == "第一行\n第二行"
    assert unescape("\\X41\\", "\\", seps) == "A"


def test_undecodable_bytes_are_refused_readably():
    with pytest.raises(IngestError, match="not valid text"):
        decode(b"MSH|^~\\&|A|B|||20260101||ADT^A01|1|P|2.5.1|||||CHN|UNICODE UTF-8\r\xff\xfe\xfa\x80")
