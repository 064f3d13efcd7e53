"""From a scored pair to an outcome: automatic link, review by a person, or no link.

The thresholds (match weights an administrator tunes) make the first cut; rules then override the score
where a probabilistic model is known to be dangerous:

- same-id-conflict: the same valid resident ID on records whose birth date or sex disagree (a newborn
  registered under the mother's ID, a clerk who picked the wrong family member) goes to review;
- same-id-other-name: the same valid ID under a different name goes to review;
- two-valid-ids: two different valid IDs never link automatically (the check character catches every
  single-digit typo and adjacent swap, so they are two people);
- needs-name-or-id: an automatic link needs agreement on the name or the resident ID;
- household: a different given name and no agreeing ID is another member of the household (twins and
  siblings share surname, address, phone and sometimes birth date): no link, whatever the score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from yilian.identity.model import Model
from yilian.identity.score import Score

AUTO, REVIEW, NONE = "auto", "review", "none"
NAME_AGREES = frozenset({"characters", "pinyin"})
ID_AGREES = frozenset({"exact", "near (one mistyped)"})
BIRTH_AGREES = frozenset({"null", "exact", "day and month swapped"})
OTHER_PERSON_NAMES = frozenset({"family only", "else"})


@dataclass(frozen=True)
class Decision:
    outcome: str
    reasons: tuple[str, ...] = ()


def decide(s: Score, model: Model) -> Decision:
    return decide_levels({f.field: f.label for f in s.fields}, s.weight, model)


def decide_levels(levels: Mapping[str, str], weight: float, model: Model) -> Decision:
    """The outcome for a pair whose comparison levels (by label) and match weight are known."""
    name, rid = levels.get("name"), levels.get("resident_id")
    birth, sex = levels.get("birth"), levels.get("sex")
    if rid == "exact" and (birth not in BIRTH_AGREES or sex == "else"):
        return Decision(REVIEW, ("same-id-conflict",))
    if rid == "exact" and name in OTHER_PERSON_NAMES:
        return Decision(REVIEW, ("same-id-other-name",))
    if name in OTHER_PERSON_NAMES and rid not in ID_AGREES:
        return Decision(NONE, ("household",) if weight >= model.review_weight else ())
    outcome = AUTO if weight >= model.auto_weight else REVIEW if weight >= model.review_weight else NONE
    reasons: list[str] = []
    if outcome == AUTO and rid == "both valid, different":
        outcome, reasons = REVIEW, ["two-valid-ids"]
    elif outcome == AUTO and name not in NAME_AGREES and rid not in ID_AGREES:
        outcome, reasons = REVIEW, ["needs-name-or-id"]
    return Decision(outcome, tuple(reasons) or (f"weight-{outcome}",))


def generic(name_fields: tuple[str, ...], id_fields: tuple[str, ...], agree: Mapping[str, frozenset[str]]):  # noqa: ANN201
    """A decider for another spec (the FEBRL smoke test): the thresholds and the name-or-ID rule."""

    def decide_other(levels: Mapping[str, str], weight: float, model: Model) -> Decision:
        outcome = AUTO if weight >= model.auto_weight else REVIEW if weight >= model.review_weight else NONE
        agrees = any(levels.get(f) in agree.get(f, ()) for f in (*name_fields, *id_fields))
        if outcome == AUTO and not agrees:
            return Decision(REVIEW, ("needs-name-or-id",))
        return Decision(outcome, (f"weight-{outcome}",))

    return decide_other
