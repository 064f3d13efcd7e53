"""Nothing clinically meaningful is lost between the demo alliance's truth and the store after its
feeds (HL7 v2 from the hospitals, CSV exports from the community centres) went through ingest; what a
format cannot carry is listed in demo_fidelity.NOT_CARRIED (and docs/ingest.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_fidelity import compare, dangling, summary  # noqa: E402

from yilian.demo.load import load_demo  # noqa: E402


@pytest.fixture
def loaded(gate):
    summary = load_demo(gate, patients=40, seed=3)
    assert summary.rejected == 0
    return summary


def test_every_fact_the_members_recorded_arrives_and_refers_to_what_it_referred_to(gate, loaded):
    """Counts, codes, values, dates, DICOM series and instances, allergies... per member and type; then
    the same with each reference followed to the patient, visit or clinician it names (one demo load,
    two comparisons: a missing fact and a wrong reference fail with their own message)."""
    lines = summary(compare(loaded.alliance, gate.engine, follow_references=False))
    assert lines == [], "\n".join(lines)
    assert dangling(gate.engine) == {}
    lines = summary(compare(loaded.alliance, gate.engine, follow_references=True))
    assert lines == [], "\n".join(lines)
