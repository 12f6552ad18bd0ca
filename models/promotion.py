"""The promotion rule: when a newly trained model takes the `champion` alias."""

from __future__ import annotations

import math


def promote(candidate: float, champion: float | None) -> bool:
    """True if the candidate should become champion: there is no champion (or it cannot score
    the current feature set, passed as None), or the candidate's precision at k is strictly
    higher than the champion's on the same validation window. A tie keeps the champion."""
    if champion is None or (math.isnan(champion) and not math.isnan(candidate)):
        return True
    return not math.isnan(candidate) and candidate > champion
