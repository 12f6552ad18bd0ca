"""models.promotion.promote: when a newly trained model takes the `champion` alias."""

from __future__ import annotations

import pytest

from models.promotion import promote

NAN = float("nan")


@pytest.mark.parametrize(
    ("candidate", "champion", "promoted"),
    [
        (0.40, None, True),  # no champion (or none that can score the feature set)
        (0.00, None, True),
        (NAN, None, True),
        (0.51, 0.50, True),  # strictly better
        (0.50, 0.50, False),  # a tie keeps the champion
        (0.49, 0.50, False),
        (NAN, 0.50, False),  # a candidate that cannot be measured never wins
        (0.10, NAN, True),  # a champion that cannot be measured loses to one that can
        (NAN, NAN, False),
    ],
)
def test_promote(candidate, champion, promoted):
    assert promote(candidate, champion) is promoted
