"""The identifier codec on its own: sealing and opening resources, hashed index rows and queries."""

from __future__ import annotations

import orjson
import pytest
from cryptography.exceptions import InvalidTag

from yilian.crypto.codec import ENVELOPE, IdentifierCodec, _prefixes
from yilian.crypto.keys import new_data_keys
from yilian.crypto.suites import suite
from yilian.store.rows import prepare

RID = "330106195802011234"


def patient() -> dict:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [
            {"system": "urn:oid:2.16.156.10011.1.1", "value": RID},
            {"system": "urn:mrn", "value": "MRN-0042117"},
        ],
        "name": [{"family": "张", "given": ["三丰"], "text": "张三丰"}],
        "telecom": [{"system": "phone", "value": "13812345678"}],
        "address": [{"line": ["西湖区文三路 90 号"], "city": "杭州"}],
        "gender": "male",
        "birthDate": "1958-02-01",
    }


@pytest.fixture(params=["intl", "guomi"])
def codec(request) -> IdentifierCodec:  # noqa: ANN001
    s = suite(request.param)
    return IdentifierCodec(s, new_data_keys(s))


def test_sealing_hides_identifiers_and_opening_restores_the_resource(codec) -> None:  # noqa: ANN001
    sealed = codec.seal_resource(patient())
    raw = orjson.dumps(sealed).decode()
    # Values long enough that random base64 ciphertext cannot contain them by chance.
    for secret in (RID, "13812345678", "张三丰", "文三路", "MRN-0042117"):
        assert secret not in raw
    assert sealed["gender"] == "male" and sealed["identifier"][0]["system"].startswith("urn:oid")
    assert codec.open_resource(sealed) == patient()


def test_a_sealed_resource_is_bound_to_its_id(codec) -> None:  # noqa: ANN001
    sealed = codec.seal_resource(patient())
    with pytest.raises(InvalidTag):
        codec.open_resource({**sealed, "id": "p2"})


def test_resources_without_identifiers_and_other_types_pass_through(codec) -> None:  # noqa: ANN001
    bare = {"resourceType": "Patient", "id": "p", "gender": "female"}
    assert codec.seal_resource(bare) == bare
    obs = orjson.dumps({"resourceType": "Observation", "id": "o"})
    assert codec.seal("Observation", obs) is obs


def test_index_rows_become_keyed_hashes_of_prefixes(codec) -> None:  # noqa: ANN001
    p = prepare(patient(), rid=1, rid_id="p1", version=1, now=1.7e9, member="m-a")
    sealed = codec.seal_prepared(p)
    assert (
        sealed.content != p.content
        and p.content == prepare(patient(), rid=1, rid_id="p1", version=1, now=1.7e9, member="m-a").content
    )
    flat = repr(sealed.index)
    for secret in (RID, "13812345678", "张三丰", "杭州"):
        assert secret not in flat
    assert "male" in flat  # gender is not an identifier
    strings = {v for _k, v in sealed.index["strings"]}
    assert codec.hash_value("family", "张") in strings
    assert codec.hash_value("name", "张三") in strings  # the prefix of the text
    tokens = {v for _k, _s, v in sealed.index["tokens"]}
    assert codec.hash_value("identifier", RID) in tokens


def test_prefixes_stop_at_the_limit_but_keep_the_whole_value() -> None:
    assert _prefixes("abc") == ["a", "ab", "abc", "abc"]
    long = "x" * 20
    assert len(_prefixes(long)) == 13 and _prefixes(long)[-1] == long


def test_the_index_key_makes_the_hash(codec) -> None:  # noqa: ANN001
    other = IdentifierCodec(codec.suite, new_data_keys(codec.suite))
    assert other.hash_value("identifier", RID) != codec.hash_value("identifier", RID)


def test_rotated_keys_still_open_old_envelopes(codec) -> None:  # noqa: ANN001
    sealed = codec.seal_resource(patient())
    rotated = IdentifierCodec(codec.suite, codec.keys.rotated(codec.suite))
    assert rotated.open_resource(sealed) == patient()
    assert rotated.seal_resource(patient())[ENVELOPE]["k"] == rotated.keys.active != sealed[ENVELOPE]["k"]
