"""Normalisation: names in characters and pinyin, resident IDs, dates, phones, addresses."""

from __future__ import annotations

import pytest

from yilian.identity import pinyin, resident_id
from yilian.identity.normalize import address, features, phone
from yilian.identity.testing import patient
from yilian.identity.testing import resident_id as make_id


@pytest.mark.parametrize(
    "family,reading",
    [
        ("曾", "zeng"),
        ("单", "shan"),
        ("解", "xie"),
        ("区", "ou"),
        ("朴", "piao"),
        ("查", "zha"),
        ("吕", "lv"),
        ("欧阳", "ouyang"),
    ],
)
def test_surnames_have_their_surname_reading(family, reading):
    assert pinyin.surname_pinyin(family) == reading


def test_polyphonic_given_names_keep_every_reading():
    assert {"changlin", "zhanglin"} <= set(pinyin.given_pinyins("长林"))


@pytest.mark.parametrize(
    "text,family,given",
    [
        ("Zhang Wei", "zhang", "wei"),
        ("Xiuying WANG", "wang", "xiuying"),
        ("Lyu Xiaoming", "lv", "xiaoming"),
        ("Yue'e Li", "li", "yuee"),
    ],
)
def test_pinyin_names_in_either_order(text, family, given):
    assert pinyin.split_latin(text) == (family, given)


def test_characters_pinyin_and_english_order_share_a_key():
    chinese = features(patient("张伟"))
    typed = features(patient(name=None, pinyin="Wei Zhang"))
    assert chinese["name_chars"] == "张伟" and typed["name_chars"] is None
    assert set(chinese["name_keys"]) & set(typed["name_keys"]) == {"wei zhang"}


def test_a_placeholder_name_is_not_a_name():
    f = features(patient("王芳之女"))
    assert f["name_keys"] is None and f["placeholder_name"]


def test_a_childs_placeholder_name_sets_the_id_aside_even_without_a_birth_date():
    mother = make_id("330108", "1992-07-15", 222)
    baby = features(patient("王芳之女", birth=None, sex="female", rid=mother))
    assert baby["rid"] is None and baby["rid_state"] == "conflict" and baby["guardian_rid"] == mother
    unknown = features(patient("无名氏", birth=None, sex="female", rid=mother))  # not someone's child
    assert unknown["rid"] == mother and unknown["rid_state"] != "conflict"


def test_resident_id_check_character_birth_and_sex():
    rid = make_id("330108", "1960-03-08", 137)
    parsed = resident_id.parse(rid.lower())
    assert parsed.valid and parsed.birth == "1960-03-08" and parsed.sex == "male" and parsed.plausible_region
    assert not resident_id.parse(rid[:17] + ("0" if rid[17] != "0" else "1")).valid
    assert resident_id.parse("12345") is None
    historical = make_id("339005", "1960-03-08", 137)  # a county code since renamed: still a valid ID
    assert resident_id.parse(historical).valid


def test_the_check_character_catches_every_single_digit_typo_and_adjacent_swap():
    rid = make_id("330108", "1985-11-23", 421)
    for i in range(17):
        for d in "0123456789":
            if d != rid[i]:
                typo = rid[:i] + d + rid[i + 1 :]
                assert not resident_id.parse(typo).valid
                assert resident_id.near(typo, rid)
        if i < 16 and rid[i] != rid[i + 1]:
            swapped = rid[:i] + rid[i + 1] + rid[i] + rid[i + 2 :]
            assert not resident_id.parse(swapped).valid
            assert resident_id.near(swapped, rid)


@pytest.mark.parametrize(
    "birth,sex,state",
    [
        ("1960-03-08", "male", "ok"),
        ("1960-08-03", "male", "swapped"),
        ("1961-03-08", "male", "typo"),
        ("2026-10-30", "female", "conflict"),
        ("1960-03-08", "female", "sex-conflict"),
        (None, None, "unknown"),
    ],
)
def test_the_id_is_checked_against_the_record(birth, sex, state):
    rid = resident_id.parse(make_id("330108", "1960-03-08", 137))
    assert resident_id.consistency(rid, birth, sex) == state


def test_another_persons_id_is_set_aside():
    mother = make_id("330108", "1992-07-15", 222)
    f = features(patient("李欣怡", birth="2026-10-30", sex="female", rid=mother))
    assert f["rid"] is None and f["guardian_rid"] == mother and f["rid_state"] == "conflict"


def test_dates_phones_addresses():
    f = features(patient(birth="1960-03-08"))
    assert f["births"] == ["1960-03-08", "1960-08-03"]
    assert features(patient(birth="1960"))["birth"] is None
    assert phone("+86 138-1234-5678") == "13812345678" == phone("0086 13812345678")
    assert phone("0571-8888 1234") == "057188881234" and phone("000") is None and phone("13888888888") is None
    home = [{"use": "home", "text": "浙江省杭州市滨江区长宁街道江南大道12号阳光花园3幢2单元501室"}]
    assert address(home) == ("江南大道12号", "江南大道12号阳光花园3幢2单元501室")
    assert address([{"use": "home", "line": ["江南大道１２号"], "city": "滨江市"}])[0] == "江南大道12号"
