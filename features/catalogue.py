"""The feature catalogue: every column of the feature table in table order, and its Markdown
form in docs/features.md (``python -m features.catalogue > docs/features.md``; a test fails when
the file is stale).

Each family declares its columns with ``<family>_columns()`` and computes them with
``<family>(...)``: account, history, payments, sessions, context, entities, rings.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from features.account import account_columns
from features.columns import Feature
from features.context import context_columns
from features.entities import entities_columns
from features.exprs import STRENGTH
from features.history import history_columns
from features.payments import payments_columns
from features.rings import rings_columns
from features.sessions import sessions_columns


def catalogue() -> list[Feature]:
    """Every feature column in table order (after account_id and ring_id)."""
    return [
        *account_columns(),
        *history_columns(),
        *payments_columns(),
        *sessions_columns(),
        *context_columns(),
        *entities_columns(),
        *rings_columns(),
    ]


def feature_names() -> list[str]:
    return [f.name for f in catalogue()]


@cache
def _by_name() -> dict[str, Feature]:
    return {f.name: f for f in catalogue()}


def lookup(name: str) -> Feature | None:
    """The declaration of feature `name`, None for a name the catalogue does not hold."""
    return _by_name().get(name)


def markdown(features: Iterable[Feature]) -> str:
    """The catalogue as a Markdown table, one row per feature column in table order."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated from the feature declarations in `features/` by",
        "`python -m features.catalogue > docs/features.md`; a test fails when it is stale.",
        "Windows end at the as-of instant (midnight UTC after the as-of day, exclusive) and reach",
        f"back the number of days named; rates are smoothed with a weight of {STRENGTH:g} orders",
        "at the stated prior. Every feature column is Float64. The table starts with `account_id` and",
        "`ring_id` (the account's ring, `R-<account_id of its founder>`, null outside a ring; not a model",
        "input, see `features/rings.py` for the ring rule).",
        "",
        "| feature | family | window | unit | meaning |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| `{f.name}` | {f.family} | {f.window} | {f.unit} | {f.meaning} |" for f in features]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(catalogue()), end="")
