"""The promotion rule: when a newly trained model takes the `champion` alias.

The champion is first judged on the candidate's validation window; the outcome is one of three
states (``Comparison``), and ``promote`` decides from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class ChampionState(Enum):
    ABSENT = "no usable champion"  # none yet, or it cannot score the current feature set
    NOT_COMPARABLE = "not comparable"  # it has seen labels inside the window: no fair comparison
    COMPARED = "compared"  # re-scored on the same window


@dataclass(frozen=True)
class Comparison:
    state: ChampionState
    precision: float = math.nan  # the champion's precision at k on the window, when compared
    reason: str = ""


def promote(candidate: float, champion: Comparison) -> bool:
    """True if the candidate should become champion: there is no usable champion, or the
    candidate's precision at k is strictly higher than the champion's on the same window (a
    champion with no figure there loses to a candidate with one). A tie keeps the champion,
    and so does a champion that cannot be compared fairly."""
    if champion.state is ChampionState.ABSENT:
        return True
    if champion.state is ChampionState.NOT_COMPARABLE or math.isnan(candidate):
        return False
    return math.isnan(champion.precision) or candidate > champion.precision
