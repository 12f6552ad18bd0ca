"""Reasons for flagged accounts, from LightGBM's per-row contributions.

Contributions (``pred_contrib=True``) cost about a thousand times a plain prediction, so they
are computed for the flagged accounts only. Each reason names the feature, the account's
value, its contribution to the log-odds, where the value sits in the scored population and
what is typical there, and a sentence built from the feature catalogue. A flagged account in
a ring also gets the ring's evidence.
"""

from __future__ import annotations

import json
import re
from datetime import date

import numpy as np
import polars as pl

from features.catalogue import lookup
from features.columns import COUNTS, Unit
from models.estimator import AbuseClassifier, feature_frame

SPARE_REASONS = 3  # contributions looked at beyond `top`, in case some values are merely typical
TYPICAL = (40.0, 60.0)  # percentiles of a value too ordinary to be shown as a reason
WINDOW_TEXT = {
    "1d": "last day",
    "7d": "last 7 days",
    "30d": "last 30 days",
    "90d": "last 90 days",
    "lifetime": "all history",
    "as of t": "now",
}
RING_EVIDENCE = "ring_evidence"  # the `feature` of the reason that gives a ring's evidence


def contributions(model: AbuseClassifier, flagged: pl.DataFrame, names: list[str]) -> np.ndarray:
    """(rows, features) contributions to the log-odds; the bias column is dropped."""
    return model.contributions(feature_frame(flagged, names))[:, :-1]


def percentile_of(population: np.ndarray, value: float) -> float:
    """Where `value` sits in `population`: the share of its (non-missing) values at or below
    `value`, in percent. The one percentile rule of reasons and of the analysts' API."""
    values = np.sort(population[~np.isnan(population)])
    return 100.0 * np.searchsorted(values, value, side="right") / max(len(values), 1)


def _shown(value: float, unit: Unit) -> str:
    """A value in a person's units: counts as integers, durations in minutes, hours or days,
    money with a thousands separator, never e-notation."""
    if unit == Unit.SHARE:
        return f"{100 * value:.0f}%"
    if unit == Unit.FLAG:
        return "yes" if value >= 0.5 else "no"
    if unit in COUNTS or unit == Unit.DEVICES:
        return f"{value:,.0f}"
    if unit in (Unit.MINUTES, Unit.HOURS, Unit.DAYS):
        minutes = value * {Unit.MINUTES: 1, Unit.HOURS: 60, Unit.DAYS: 1440}[unit]
        return _duration(minutes)
    if unit == Unit.USD:
        return f"{value:,.2f} USD" if abs(value) < 100 else f"{value:,.0f} USD"
    return f"{value:,.2f}".rstrip("0").rstrip(".") + (f" {unit}" if unit != Unit.INDEX else "")


def _duration(minutes: float) -> str:
    """90 -> "1.5 hours", 3 -> "3 minutes", 4320 -> "3 days"."""
    for size, name in ((1440, "day"), (60, "hour"), (1, "minute")):
        if abs(minutes) >= size or size == 1:
            amount = minutes / size
            shown = f"{amount:,.0f}" if abs(amount) >= 10 or amount == round(amount) else f"{amount:,.1f}"
            return f"{shown} {name}{'' if shown == '1' else 's'}"
    raise AssertionError("unreachable")


def _ordinal(percentile: float) -> str:
    """99.8 -> "99.8th", 2.1 -> "2.1st", 42 -> "42nd" (the suffix follows the last digit shown)."""
    shown = f"{percentile:.1f}".removesuffix(".0")
    last = shown[-1]
    teen = len(shown) >= 2 and shown[-2] == "1" and "." not in shown[-2:]
    suffix = "th" if teen or last not in "123" else {"1": "st", "2": "nd", "3": "rd"}[last]
    return shown + suffix


def _sentence(name: str, value: float, percentile: float, median: float, day: str) -> str:
    """E.g. "buyer cancellations within 10 minutes of placing (or paying for) the order, last
    30 days: 17 (99.8th percentile; typical 0)". The features' instant t is the run's `day`."""
    f = lookup(name)
    if f is None:
        return f"{name}: {value:,.2f}"
    window = WINDOW_TEXT.get(f.window, f.window)
    where = (
        f"typical {_shown(median, f.unit)}"
        if f.unit == Unit.FLAG
        else f"{_ordinal(percentile)} percentile; typical {_shown(median, f.unit)}"
    )
    meaning = re.sub(r"\bt\b", day, f.meaning)
    return f"{meaning}, {window}: {_shown(value, f.unit)} ({where})"


def _num(x: float, digits: int = 4) -> float | None:
    """A JSON-safe rounded number (JSON has no NaN)."""
    return round(float(x), digits) if np.isfinite(x) else None


def ring_evidence(row: dict) -> dict | None:
    """The ring behind a flagged account, in an analyst's words, or None outside a ring."""
    if not row.get("ring_id"):
        return None
    size = int(row["ring_size"])
    confirmed = round(row["ring_known_abuser_share"] * (size - 1))
    text = (
        f"ring {row['ring_id']} of {size} accounts; its most shared device is used by {int(row['max_accounts_per_device'])} "
        f"accounts and its most shared card by {int(row['max_accounts_per_card'])}; {confirmed} other member(s) already confirmed abusers"
    )
    return {
        "feature": RING_EVIDENCE,
        "ring_id": row["ring_id"],
        "value": size,
        "confirmed_members": confirmed,
        "text": text,
    }


def reasons(
    model: AbuseClassifier,
    flagged: pl.DataFrame,
    population: pl.DataFrame,
    names: list[str],
    top: int = 3,
    as_of: date | None = None,
) -> list[str]:
    """One JSON list per flagged row: of the features pushing its score up most, the `top` whose
    value is known and not merely typical, the most extreme (farthest from the population's
    median percentile) first, each with value, contribution, population percentile and text,
    then the ring evidence if any. Texts name the run's date `as_of` where the catalogue says t."""
    day = as_of.isoformat() if as_of is not None else "the run's date"
    if flagged.is_empty():
        return []
    contrib = contributions(model, flagged, names)
    # Candidates: the strongest positive contributions. A value equal to the population's
    # median, or between its 40th and 60th percentiles, explains nothing to an analyst (it
    # matters only through other features), so such candidates give way to the next; a few
    # spares per row are looked up for that.
    best = np.argsort(-contrib, axis=1)[:, : top + SPARE_REASONS]
    used = sorted(set(best.ravel().tolist()))
    pops = {i: population[names[i]].cast(pl.Float64).to_numpy() for i in used}
    medians = {i: float(np.nanmedian(pops[i])) if np.isfinite(pops[i]).any() else float("nan") for i in used}
    out = []
    for r, row in enumerate(flagged.iter_rows(named=True)):
        items = []
        for i in best[r]:
            if contrib[r, i] <= 0:
                break  # a reason must push towards abuse
            value = float("nan") if row[names[i]] is None else float(row[names[i]])
            if not np.isfinite(value):
                continue  # an unknown value is never cited: it says nothing about the account
            pct = percentile_of(pops[i], value)
            if value == medians[i] or TYPICAL[0] <= pct <= TYPICAL[1]:
                continue
            items.append(
                {
                    "feature": names[i],
                    "value": _num(value),
                    "contribution": _num(contrib[r, i]),
                    "percentile": _num(pct, 1),
                    "typical": _num(medians[i]),
                    "text": _sentence(names[i], value, pct, medians[i], day),
                }
            )
        # The drivers shown, most extreme first: a 99.9th percentile before a 70th.
        items = sorted(items, key=lambda item: -abs(item["percentile"] - 50.0))[:top]
        ring = ring_evidence(row)
        if ring is not None:
            ring_idx = [i for i, n in enumerate(names) if n.startswith("ring_")]
            ring["contribution"] = _num(contrib[r, ring_idx].sum())
            items.append(ring)
        out.append(json.dumps(items))
    return out


def reason_lines(reasons_json: str | list[dict]) -> str:
    """The sentences of a queue row's reasons (the JSON text or the parsed list), one per line."""
    items = json.loads(reasons_json) if isinstance(reasons_json, str) else reasons_json
    return "\n".join(f"- {r['text']}" for r in items)
