"""PreparedBatch: prepared resources column-wise, keyed by position until the store gives them rids."""

from __future__ import annotations

import copy
import pickle
import time
import uuid

import orjson

from yilian.store.repository import new_id, new_ids
from yilian.store.rows import PreparedBatch, batch_of, prepare

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:resident", "value": "110101199001011234"}],
    "name": [{"family": "赵", "given": ["一"]}],
    "managingOrganization": {"reference": "Organization/provisional-org"},
}
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/provisional-pat"},
    "performer": [{"reference": "Organization/provisional-org"}],
    "valueQuantity": {"value": 72, "unit": "/min"},
}


def _batch() -> PreparedBatch:
    batch = PreparedBatch()
    for rid_id, resource in (("provisional-pat", PATIENT), ("o1", OBSERVATION), ("o2", OBSERVATION)):
        batch.prepare(copy.deepcopy(resource), rid_id=rid_id, version=1, now=1.7e9, member="m-a")
    return batch


def test_preparing_into_a_batch_matches_preparing_one_by_one():
    one_by_one = batch_of(
        [
            prepare(copy.deepcopy(r), rid=0, rid_id=i, version=1, now=1.7e9, member="m-a")
            for i, r in (("provisional-pat", PATIENT), ("o1", OBSERVATION), ("o2", OBSERVATION))
        ]
    )
    batch = _batch()
    assert batch.size == one_by_one.size == 3
    assert batch.resources == one_by_one.resources
    assert {k: sorted(v) for k, v in batch.index.items()} == {
        k: sorted(v) for k, v in one_by_one.index.items()
    }
    assert (
        sorted(batch.compartment)
        == sorted(one_by_one.compartment)
        == [
            (0, "provisional-pat"),
            (1, "provisional-pat"),
            (2, "provisional-pat"),
        ]
    )
    assert {row[0] for rows in batch.index.values() for row in rows} == {0, 1, 2}


def test_a_batch_travels_between_processes_whole():
    """Workers send batches to the writer pickled (marshal inside): every row comes back as it was."""
    batch = _batch()
    back = pickle.loads(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
    assert back is not batch and back == batch and back.size == 3
    assert back.index.keys() == batch.index.keys() and back.resources[1][7] == batch.resources[1][7]


def test_a_matched_conditional_create_is_dropped_and_references_move_to_its_match():
    batch = _batch()
    batch.drop({0})  # the Patient matched one already stored: its rows go...
    assert [row[0] for row in batch.resources] == [1, 2]
    assert all(row[0] != 0 for rows in batch.index.values() for row in rows)
    moved = {
        "Patient/provisional-pat": "Patient/stored-pat",
        "Organization/provisional-org": "Organization/org",
    }
    batch.retarget(moved, {1: set(moved)})  # ...and what mentions them points at the matches
    first, second = (orjson.loads(row[7]) for row in batch.resources)
    assert first["subject"]["reference"] == "Patient/stored-pat"
    assert first["performer"][0]["reference"] == "Organization/org"
    assert second["subject"]["reference"] == "Patient/provisional-pat"  # not said to mention: left as it was
    targets = {(row[0], row[2], row[3]) for row in batch.index["references"]}
    assert {(1, "Patient", "stored-pat"), (2, "Patient", "stored-pat"), (1, "Organization", "org")} <= targets
    assert not any(tid.startswith("provisional") for _k, _p, _t, tid in batch.index["references"])
    assert sorted(batch.compartment) == [(1, "stored-pat"), (2, "stored-pat")]


def test_new_ids_are_time_ordered_version_7_uuids():
    before = time.time_ns() // 1_000_000
    ids = new_ids(500)
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == 500
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
        assert before <= parsed.int >> 80 <= after  # the first 48 bits: Unix time in milliseconds
    time.sleep(0.002)
    assert min(new_ids(3)) > max(ids)  # a later id sorts after an earlier one: indexes grow at one end
    assert new_ids(0) == []
    assert uuid.UUID(new_id()).version == 7


def test_batches_concatenate_with_their_keys_moved_past_the_ones_before():
    first, second = _batch(), _batch()
    second.drop({1})  # a gap: a matched create leaves its key unused
    joined, offsets = PreparedBatch.concatenated([first, second])
    assert offsets == [0, 3] and joined.size == 6
    assert [row[0] for row in joined.resources] == [0, 1, 2, 3, 5]
    assert joined.resources[3][1:] == second.resources[0][1:]
    assert {row[0] for rows in joined.index.values() for row in rows} == {0, 1, 2, 3, 5}
    assert sorted(joined.compartment) == [(k, "provisional-pat") for k in (0, 1, 2, 3, 5)]
    # every row of every table (each width) is the second batch's row with only its key moved
    for name, rows in second.index.items():
        assert [(k + 3, *rest) for k, *rest in rows] == [r for r in joined.index[name] if r[0] >= 3]
    assert {len(rows[0]) for rows in joined.index.values()} >= {3, 4, 5}
    assert first.resources[0][0] == 0 and second.resources[0][0] == 0  # the parts are left as they were


def test_a_batch_rekeyed_to_scattered_rids_keeps_each_row_with_its_resource():
    batch = _batch()
    rids = [907, 12, 4000]  # PostgreSQL under concurrent writers: not one block
    keyed = batch.rekeyed(rids.__getitem__)
    assert [row[0] for row in keyed.resources] == rids
    for old, new in zip(range(3), rids, strict=True):
        assert sorted(r[1:] for r in batch.index["tokens"] if r[0] == old) == sorted(
            r[1:] for r in keyed.index["tokens"] if r[0] == new
        )
