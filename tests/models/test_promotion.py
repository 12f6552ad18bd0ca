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
        (0.99, NOT_COMPARABLE, False),  # no fair comparison: the champion keeps its alias
    ],
)
def test_promote(candidate, champion, promoted):
    assert promote(candidate, champion) is promoted
