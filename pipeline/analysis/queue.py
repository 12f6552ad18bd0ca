"""The review queue of a day: its rows with their reasons parsed, filters, and the day at a glance."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from matplotlib.figure import Figure

from features.catalogue import lookup
from models.explain import RING_EVIDENCE
from pipeline import review_db
from pipeline.analysis.locations import Data, Day, as_date, review_engine, snapshot
from pipeline.analysis.style import STATUS_COLOURS
from pipeline.errors import ConfigError

UNCLAIMED = "(nobody)"  # the claimed_by filter for rows no analyst holds
RING_MEANING = "member of a linked-account ring"  # the ring evidence is a reason, not a catalogue feature


def _meaning(feature: str) -> str | None:
    """What a reason's feature means: the catalogue's words, or the ring evidence's."""
    if feature == RING_EVIDENCE:
        return RING_MEANING
    found = lookup(feature)
    return None if found is None else found.meaning


def queue(review: str | sa.Engine, as_of: Day | None = None, data: Data | None = None) -> pd.DataFrame:
    """The review queue of `as_of` (the latest date in the table when None), in rank order.

    The table's columns (``review_db.read_queue``) with `reasons` parsed into a list of dicts,
    plus `why` (the reasons' sentences, one per line), `reason_features` (the features named,
    ring evidence excluded), `ring_size` (NaN outside a ring) and `claimed_by` (the analyst
    working on it now, NaN when no one); with `data`, also the account's `country` and
    `created_at` from the snapshot's accounts table.
    """
    engine = review_engine(review)
    rows = review_db.read_queue(engine, None if as_of is None else as_date(as_of))
    if as_of is None and not rows.empty:
        rows = rows[rows["as_of"] == rows["as_of"].max()]
    held = review_db.claims_of(engine)[["account_id", "as_of", "claimed_by"]]
    rows = rows.merge(held, on=["account_id", "as_of"], how="left")
    reasons = rows["reasons"].map(json.loads)
    out = rows.assign(
        reasons=reasons,
        why=reasons.map(lambda items: "\n".join(f"- {r['text']}" for r in items)),
        reason_features=reasons.map(lambda items: [r["feature"] for r in items if r["feature"] != RING_EVIDENCE]),
        ring_size=reasons.map(
            lambda items: next((float(r["value"]) for r in items if r["feature"] == RING_EVIDENCE), np.nan)
        ),
    ).reset_index(drop=True)
    if data is not None:
        accounts = snapshot(data).accounts.select("account_id", "country", "created_at").to_pandas()
        out = out.merge(accounts, on="account_id", how="left")
    return out


def filter_queue(
    rows: pd.DataFrame,
    *,
    ring: str | None = None,
    country: str | Iterable[str] | None = None,
    reason: str | None = None,
    status: str | Iterable[str] | None = None,
    score_min: float | None = None,
    score_max: float | None = None,
    claimed_by: str | None = None,
) -> pd.DataFrame:
    """The rows of a `queue` frame in ring `ring`, in `country` (one or several; needs `queue(..., data=)`),
    whose reasons mention `reason` (case-insensitive, in a feature name or a sentence), whose
    status is `status` (one or several), whose score is within [`score_min`, `score_max`] and
    that `claimed_by` holds (UNCLAIMED: that no one holds). Filters left as None do not filter."""
    keep = pd.Series(True, index=rows.index)
    if ring is not None:
        keep &= rows["ring_id"] == ring
    if country is not None:
        if "country" not in rows.columns:
            raise ConfigError("filtering by country needs the accounts: call queue(..., data=...)")
        keep &= rows["country"].isin([country] if isinstance(country, str) else list(country))
    if reason is not None:
        needle = reason.lower()
        mentions = lambda items: any(needle in r["feature"].lower() or needle in r["text"].lower() for r in items)
        keep &= rows["reasons"].map(mentions)
    if status is not None:
        keep &= rows["status"].isin([status] if isinstance(status, str) else list(status))
    if score_min is not None:
        keep &= rows["score"] >= score_min
    if score_max is not None:
        keep &= rows["score"] <= score_max
    if claimed_by == UNCLAIMED:
        keep &= rows["claimed_by"].isna()
    elif claimed_by is not None:
        keep &= rows["claimed_by"] == claimed_by
    return rows[keep]


# The columns of an exported queue, in order; `why` holds the reasons' sentences.
EXPORT_COLUMNS = (
    "as_of",
    "rank",
    "account_id",
    "score",
    "status",
    "ring_id",
    "claimed_by",
    "reviewed_by",
    "reviewed_at",
    "note",
    "model_version",
    "why",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula (OWASP CSV injection)


def export_rows(rows: pd.DataFrame) -> list[dict]:
    """A `queue` frame's EXPORT_COLUMNS as plain records (text, numbers, None; times in ISO
    8601 UTC; `why` the reasons' sentences separated by "; "), in its order: what the CSV and
    JSON exports write."""
    frame = rows.reindex(columns=list(EXPORT_COLUMNS)).assign(
        why=rows["reasons"].map(lambda items: "; ".join(r["text"] for r in items))
    )
    records = []
    for row in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        at = row["reviewed_at"]
        records.append(
            row
            | {
                "as_of": None if row["as_of"] is None else str(row["as_of"]),
                "reviewed_at": None if at is None else pd.Timestamp(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return records


def queue_csv(rows: pd.DataFrame) -> str:
    """A `queue` frame as CSV text (EXPORT_COLUMNS, header first). A text cell starting with =, +,
    -, @, tab or carriage return gets a leading apostrophe, so a spreadsheet shows it instead of
    running it: a note or an id is free text an abuser can shape."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    for record in export_rows(rows):
        writer.writerow({k: _inert(v) for k, v in record.items()})
    return out.getvalue()


def _inert(value: object) -> object:
    """`value`, with a leading apostrophe when it is text a spreadsheet would run as a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def reason_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per reason feature (ring evidence included): queued accounts citing it, most cited first,
    with the feature's meaning from the catalogue."""
    cited = rows["reasons"].explode().dropna().map(lambda r: r["feature"])
    counts = cited.value_counts().rename_axis("feature").reset_index(name="accounts")
    return counts.assign(meaning=counts["feature"].map(_meaning))


def reasons_table(rows: pd.DataFrame, account_id: str) -> pd.DataFrame:
    """The reasons of one queued account as a table (feature, value, percentile, typical,
    contribution to the log-odds, text); empty when the account is not in `rows`."""
    columns = ["feature", "value", "percentile", "typical", "contribution", "text"]
    found = rows.loc[rows["account_id"] == account_id, "reasons"]
    if found.empty:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(found.iloc[0]).reindex(columns=columns)


def queue_figure(rows: pd.DataFrame, top: int = 12) -> Figure:
    """Four panels on one day's queue: score by rank and status, the most cited reasons, the
    rings with most queued members, and countries (when `rows` has them)."""
    fig = Figure(figsize=(13, 9), layout="constrained")
    (a, b), (c, d) = fig.subplots(2, 2)
    day = rows["as_of"].iloc[0] if len(rows) else "?"
    fig.suptitle(f"Review queue of {day}: {len(rows)} accounts", fontsize=14)

    for status, part in rows.groupby("status"):
        a.scatter(part["rank"], part["score"], s=14, color=STATUS_COLOURS.get(status, "black"), label=status)
    in_ring = rows["ring_id"].notna()
    a.scatter(
        rows.loc[in_ring, "rank"],
        rows.loc[in_ring, "score"],
        s=40,
        facecolors="none",
        edgecolors="black",
        linewidths=0.5,
        label="in a ring",
    )
    a.set(xlabel="rank", ylabel="score (probability of abuse)", title="Score by rank")
    a.legend(fontsize=8)

    counts = reason_counts(rows).head(top).iloc[::-1]
    b.barh(counts["feature"], counts["accounts"], color="#4c72b0")
    b.set(xlabel="queued accounts citing it", title=f"Most cited reasons (top {len(counts)})")
    b.tick_params(axis="y", labelsize=8)

    rings = (
        rows.dropna(subset=["ring_id"]).groupby("ring_id").agg(queued=("account_id", "size"), size=("ring_size", "max"))
    )
    rings = rings.sort_values(["queued", "size"], ascending=False).head(top).iloc[::-1]
    c.barh(rings.index, rings["size"], color="#dddddd", label="ring size")
    c.barh(rings.index, rings["queued"], color="#c44e52", label="queued today")
    c.set(xlabel="accounts", title=f"Rings with most queued members (top {len(rings)})")
    c.legend(fontsize=8)
    c.tick_params(axis="y", labelsize=8)

    if "country" in rows.columns:
        by_country = rows["country"].value_counts().head(top).iloc[::-1]
        d.barh(by_country.index, by_country.to_numpy(), color="#55a868")
        d.set(xlabel="queued accounts", title="Queued accounts by country of registration")
    else:
        d.set_axis_off()
    return fig
