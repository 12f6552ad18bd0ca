"""The promotion rule: when a newly trained model takes the `champion` alias.

The champion is first judged on the candidate's backtest windows, on the candidate's data; the
outcome is one of three states (``Comparison``), and ``promote`` decides from it:

* **absent** (none yet, or it cannot score the current feature set): the candidate is promoted;
* **compared** (the champion saw no label decided inside the windows, so it can be judged there
  like the candidate): the candidate is promoted when its headline backtest figure is strictly
  higher; a tie keeps the champion;
* **not comparable** (the champion was trained on labels decided inside the windows, as is every
  champion of the night before, or of another snapshot with later dates such as the demo's
  market): no fair figure exists, so the champion cannot block. The candidate is promoted when
  it beats the best naive baseline on its own backtest (the floor): a model that cannot beat
  counting cancellations never replaces one.

An operator can always choose a version by hand (`buyer-abuse promote --version N`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class ChampionState(Enum):
    ABSENT = "no usable champion"  # none yet, or it cannot score the current feature set
    NOT_COMPARABLE = "not comparable"  # it has seen labels inside the windows: no fair comparison
    COMPARED = "compared"  # re-scored on the same windows and data


@dataclass(frozen=True)
class Comparison:
    state: ChampionState
    precision: float = math.nan  # the champion's headline figure on the windows, when compared
    reason: str = ""


def promote(candidate: float, champion: Comparison, floor: float = math.nan) -> bool:
    """True if the candidate (its headline backtest figure) should become champion. `floor`: the
    best naive baseline's figure on the same windows, which a candidate must beat to replace a
    champion that cannot be compared (NaN: no floor known)."""
    if champion.state is ChampionState.ABSENT:
        return True
    if math.isnan(candidate):
        return False
    if champion.state is ChampionState.NOT_COMPARABLE:
        return math.isnan(floor) or candidate > floor
    return math.isnan(champion.precision) or candidate > champion.precision
