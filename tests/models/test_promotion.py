"""models.promotion.promote: when a newly trained model takes the `champion` alias."""

from __future__ import annotations

import pytest

from models.promotion import ChampionState, Comparison, promote

NAN = float("nan")
ABSENT = Comparison(ChampionState.ABSENT)
NOT_COMPARABLE = Comparison(ChampionState.NOT_COMPARABLE, reason="trained on labels inside the window")


def compared(precision: float) -> Comparison:
    return Comparison(ChampionState.COMPARED, precision)


@pytest.mark.parametrize(
    ("candidate", "champion", "promoted"),
    [
        (0.40, ABSENT, True),  # no champion, or none that can score the feature set
        (0.00, ABSENT, True),
        (NAN, ABSENT, True),
        (0.51, compared(0.50), True),  # strictly better
        (0.50, compared(0.50), False),  # a tie keeps the champion
        (0.49, compared(0.50), False),
        (NAN, compared(0.50), False),  # a candidate that cannot be measured never wins
        (0.10, compared(NAN), True),  # a champion that cannot be measured loses to one that can
        (NAN, compared(NAN), False),
        (0.99, NOT_COMPARABLE, True),  # no fair comparison and no floor: the champion cannot block
        (NAN, NOT_COMPARABLE, False),
    ],
)
def test_promote(candidate, champion, promoted):
    assert promote(candidate, champion) is promoted


@pytest.mark.parametrize(
    ("candidate", "floor", "promoted"),
    [
        (0.90, 0.30, True),  # beats counting cancellations: it replaces a champion it cannot be compared with
        (0.30, 0.30, False),  # no better than the best naive baseline: the champion stays
        (0.20, 0.30, False),
    ],
)
def test_a_champion_that_cannot_be_compared_yields_to_a_candidate_above_the_floor(candidate, floor, promoted):
    assert promote(candidate, NOT_COMPARABLE, floor) is promoted


def test_the_floor_does_not_apply_when_the_champion_was_compared():
    assert promote(0.2, compared(0.1), floor=0.9)
    assert not promote(0.2, compared(0.3), floor=0.1)
