"""The package API the analysts' notebooks call: small readers and plots, pandas at the edges.

Everything here reads what the batch job already wrote (the snapshot, a run directory, the
review table, the MLflow store) and re-uses the package's own functions for anything the job
computes: point-in-time views (``features.time.known_at``), order stages
(``features.history.order_facts``), entity links and ring graphs (``features.entities``, ``features.rings``), labels
in force (``models.dataset``), naive baselines and slice rates (``models.evaluate``). Nothing
the batch job needs lives here, and nothing here writes, except ``record_verdict`` (the review
table's own function, re-exported) and the artefacts MLflow downloads into a temporary folder
(``registry.load``, used for feature importance, would also create the project's experiment in
a tracking store that has none).

Frames come out as pandas; figures as matplotlib ``Figure`` objects that are *not* registered
with pyplot, so a notebook shows each exactly once, as the value of its cell.

Locations are given as a notebook gives them: paths (relative to the working directory) and
SQLAlchemy / MLflow URLs. A relative SQLite URL (``sqlite:///../demo/review.db``) is read
relative to the working directory too, and a SQLite file that does not exist is an error here
rather than a new empty database.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import redirect_stderr
from datetime import date, datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import polars as pl
import sqlalchemy as sa
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from contract.values import CANCEL_INITIATORS
from contract.values import REVIEW_STATUSES as STATUSES
from features.catalogue import catalogue
from features.context import campaign_context
from features.entities import entity_links
from features.history import order_facts
from features.rings import ring_graph
from features.time import as_of_end, known_at
from models import plots
from models.dataset import labels_in_force, merge_labels
from models.evaluate import BASELINES, baseline_scores, ranked, slice_rates
from pipeline import registry, review_db, rundirs
from pipeline.errors import ConfigError, InputError
from pipeline.review_db import record_verdict  # re-exported: notebooks record verdicts through the package
from pipeline.snapshot import Snapshot, load_snapshot

__all__ = [
    "STATUSES",
    "abusers_to_find",
    "account_orders",
    "feature_importance",
    "feature_percentiles",
    "filter_queue",
    "importance_figure",
    "labels_at",
    "logged_plots",
    "lookalike_fp_share",
    "member_status",
    "metrics_figure",
    "model_versions",
    "pattern_recall",
    "percentile_figure",
    "queue",
    "queue_figure",
    "ranked_population",
    "reason_counts",
    "reasons_table",
    "record_verdict",
    "review_engine",
    "ring_figure",
    "ring_graph_for",
    "ring_members",
    "ring_of",
    "run_as_of",
    "run_dir",
    "run_summary",
    "slices_figure",
    "snapshot",
    "sqlite_url",
    "timeline_figure",
    "truth",
    "truth_pr_figures",
]

Data = Snapshot | str | Path
Day = date | datetime | str

CAUSES = CANCEL_INITIATORS  # who cancelled an order: the cause an analyst reads first
CAUSE_COLOURS = {
    "buyer": "#d62728",
    "seller": "#ff7f0e",
    "logistics": "#1f77b4",
    "payment": "#9467bd",
    "platform": "#8c564b",
    "not cancelled": "#9a9a9a",
}
STAGE_ROWS = ("not cancelled", "before payment", "after payment", "after shipment")
STATUS_COLOURS = {
    "open": "#f2c12e",
    "confirmed_abuse": "#d62728",
    "cleared": "#2ca02c",
    "escalated": "#9467bd",
    "labelled abuse": "#7f0000",
    "labelled legit": "#98df8a",
    "not queued": "#d9d9d9",
}
ENTITY_MARKERS = {"device": "s", "card": "D", "address": "^", "net": "v"}
RING_KINDS = ("device", "card", "address")  # what links a ring: network prefixes never do (features.rings)
RANKERS = {"score": "model", **{b: f"baseline: {b}" for b in BASELINES}}

# Honest look-alikes: groups of honest accounts a careless rule would flag (see the simulator package).
LOOKALIKES: dict[str, pl.Expr] = {
    "remote-region buyers": pl.col("remote"),
    "stock-out victims (flash_fan)": pl.col("pattern") == "flash_fan",
    "households": pl.col("pattern") == "household",
    "heavy buyers": pl.col("pattern") == "heavy_buyer",
    "fickle buyers": pl.col("pattern") == "fickle",
    "card trouble": pl.col("pattern") == "card_trouble",
    "all honest accounts": pl.lit(True),
}

_CATALOGUE = {f.name: f for f in catalogue()}


# -- locations --------------------------------------------------------------------------------


def _day(value: Day) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"not a date (YYYY-MM-DD): {value!r}") from None


def sqlite_url(url: str) -> str:
    """`url` with a relative SQLite path made absolute (from the working directory); other URLs
    unchanged. Raises InputError when the SQLite file does not exist: a mistyped notebook
    parameter must not create a new, empty database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return url
    path = Path(parsed.database).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"no SQLite database at {path} (from {url}); run ./scripts/demo or fix the parameter")
    return parsed.set(database=str(path)).render_as_string(hide_password=False)


def run_dir(runs: str | Path, as_of: Day | None = None) -> Path:
    """The complete run directory ``RUNS/as_of=DATE`` of `as_of`, or the latest complete one when None."""
    runs = Path(runs)
    if as_of is None:
        done = rundirs.complete_runs(runs)
        if not done:
            raise InputError(f"no complete run under {runs.resolve()}; run `buyer-abuse run` first")
        return done[-1]
    found = rundirs.run_dir(runs, _day(as_of))
    if not rundirs.is_complete(found):
        raise InputError(f"no complete run for {_day(as_of)} at {found.resolve()}")
    return found


def run_summary(run: str | Path) -> dict:
    """The run's summary.json as a dict."""
    return json.loads((Path(run) / "summary.json").read_text())


def run_as_of(run: str | Path) -> date:
    return date.fromisoformat(run_summary(run)["as_of"])


def snapshot(data: Data) -> Snapshot:
    """The snapshot's valid rows (``pipeline.snapshot.load_snapshot``); a Snapshot is returned as is."""
    return data if isinstance(data, Snapshot) else load_snapshot(Path(data)).snapshot


def review_engine(url: str | sa.Engine) -> sa.Engine:
    """An engine on the review database (``review_db.connect``); a missing SQLite file is an error."""
    return url if isinstance(url, sa.Engine) else review_db.connect(sqlite_url(url))


def labels_at(data: Data, review: str | sa.Engine | None, as_of: Day) -> pd.DataFrame:
    """Labels in force at the end of `as_of`, as the batch run sees them: the snapshot's labels
    plus analysts' verdicts decided by then. Columns account_id, label ('abuse'/'legit'), decided_at."""
    t = as_of_end(_day(as_of))
    verdicts = review_db.verdict_labels(review_engine(review), until=t) if review is not None else None
    labels = merge_labels(snapshot(data).labels, verdicts)
    if labels is None:
        return pd.DataFrame(
            {
                "account_id": pd.Series(dtype="str"),
                "label": pd.Series(dtype="str"),
                "decided_at": pd.Series(dtype="datetime64[us, UTC]"),
            }
        )
    return labels_in_force(labels, t).sort("account_id").to_pandas()


def truth(data: str | Path) -> pd.DataFrame | None:
    """The simulator's truth.parquet beside the snapshot (account_id, is_abuser, pattern, group,
    remote, first_abuse_at), or None for real data."""
    path = Path(data) / "truth.parquet"
    return pd.read_parquet(path) if path.is_file() else None


# -- the review queue -------------------------------------------------------------------------


def queue(review: str | sa.Engine, as_of: Day | None = None, data: Data | None = None) -> pd.DataFrame:
    """The review queue of `as_of` (the latest date in the table when None), in rank order.

    The table's columns (``review_db.read_queue``) with `reasons` parsed into a list of dicts,
    plus `why` (the reasons' sentences, one per line), `reason_features` (the features named,
    ring evidence excluded) and `ring_size` (NaN outside a ring); with `data`, also the
    account's `country` and `created_at` from the snapshot's accounts table.
    """
    rows = review_db.read_queue(review_engine(review), None if as_of is None else _day(as_of))
    if as_of is None and not rows.empty:
        rows = rows[rows["as_of"] == rows["as_of"].max()]
    reasons = rows["reasons"].map(json.loads)
    out = rows.assign(
        reasons=reasons,
        why=reasons.map(lambda items: "\n".join(f"- {r['text']}" for r in items)),
        reason_features=reasons.map(lambda items: [r["feature"] for r in items if r["feature"] != "ring_evidence"]),
        ring_size=reasons.map(
            lambda items: next((float(r["value"]) for r in items if r["feature"] == "ring_evidence"), np.nan)
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
) -> pd.DataFrame:
    """The rows of a `queue` frame in ring `ring`, in `country` (one or several; needs `queue(..., data=)`),
    whose reasons mention `reason` (case-insensitive, in a feature name or a sentence) and whose
    status is `status` (one or several). Filters left as None do not filter."""
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
    return rows[keep]


def reason_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per reason feature (ring evidence included): queued accounts citing it, most cited first,
    with the feature's meaning from the catalogue."""
    cited = rows["reasons"].explode().dropna().map(lambda r: r["feature"])
    counts = cited.value_counts().rename_axis("feature").reset_index(name="accounts")
    meaning = {name: f.meaning for name, f in _CATALOGUE.items()} | {"ring_evidence": "member of a linked-account ring"}
    return counts.assign(meaning=counts["feature"].map(meaning))


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


# -- one account ------------------------------------------------------------------------------


def account_orders(data: Data, account_id: str, as_of: Day) -> pd.DataFrame:
    """The orders of `account_id` as known at the end of `as_of`, oldest first.

    The order columns (later states reached after as-of unset, ``features.time.known_at``) plus
    `cause` (the cancel initiator, or "not cancelled"), `stage` ("before payment", "after
    payment", "after shipment" or "not cancelled", as ``features.history.order_facts`` defines
    them), `flash` (placed in a flash sale) and `fast` (a buyer cancel within minutes)."""
    t = as_of_end(_day(as_of))
    known = known_at("orders", snapshot(data).orders, t)
    # Campaign context (flash or not) pools every buyer of the campaign, so it is built on all orders.
    facts = order_facts(known.filter(pl.col("account_id") == account_id), campaign_context(known))
    return (
        facts.lazy()  # a frame or a lazy frame, whichever features.history hands out
        .sort("placed_at", "order_id")
        .with_columns(
            cause=pl.col("cancel_initiator").fill_null("not cancelled"),
            stage=pl.col("stage").str.replace_all("_", " ").fill_null("not cancelled"),
        )
        .collect()
        .to_pandas()
    )


def timeline_figure(orders: pd.DataFrame, account_id: str, as_of: Day, created_at: datetime | None = None) -> Figure:
    """The account's orders over time: top, each order on the row of its stage at the time it
    ended (cancelled_at, else placed_at), coloured by cause, with a line back to when it was
    placed; bottom, orders placed and cancellations by cause per day."""
    t = pd.Timestamp(as_of_end(_day(as_of)))
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    fig.suptitle(f"Orders and cancellations of {account_id}, as known at {t:%Y-%m-%d %H:%M} UTC", fontsize=13)
    rng = np.random.default_rng(0)  # vertical jitter only, so overlapping orders stay visible
    row = orders["stage"].map({s: i for i, s in enumerate(STAGE_ROWS)}).to_numpy(dtype=float)
    y = row + rng.uniform(-0.25, 0.25, len(orders))
    ended = orders["cancelled_at"].fillna(orders["placed_at"])
    for cause, colour in CAUSE_COLOURS.items():
        mine = (orders["cause"] == cause).to_numpy()
        if not mine.any():
            continue
        flash = orders["flash"].to_numpy() & mine
        top.hlines(y[mine], orders["placed_at"][mine], ended[mine], color=colour, lw=0.8, alpha=0.6)
        top.scatter(ended[mine & ~flash], y[mine & ~flash], color=colour, s=22, marker="o", label=cause)
        if flash.any():
            top.scatter(ended[flash], y[flash], color=colour, s=40, marker="*")
    if orders["flash"].any():
        top.scatter([], [], color="black", marker="*", s=40, label="flash-sale order")
    top.set_yticks(range(len(STAGE_ROWS)), STAGE_ROWS)
    top.set_ylim(-0.6, len(STAGE_ROWS) - 0.4)
    top.set(ylabel="cancelled ...", title="Each order at the time it was cancelled (or placed), line from placement")
    # Registration is drawn when it falls near the orders; an old account would squash them.
    created = None if created_at is None else pd.Timestamp(created_at)
    near = created is not None and (orders.empty or created >= orders["placed_at"].min() - pd.Timedelta(days=14))
    for ax in (top, bottom):
        ax.axvline(t, color="black", lw=1, ls="--")
        if near:
            ax.axvline(created, color="grey", lw=1, ls=":")
    top.legend(title="cause (initiator)", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))

    day = orders["placed_at"].dt.floor("D")
    days = (
        pd.date_range(day.min(), t - pd.Timedelta(days=1), freq="D") if len(orders) else pd.DatetimeIndex([], tz="UTC")
    )
    placed = day.value_counts().reindex(days, fill_value=0)
    cancelled = orders.dropna(subset=["cancelled_at"]).assign(day=lambda f: f["cancelled_at"].dt.floor("D"))
    per_cause = cancelled.groupby(["day", "cause"]).size().unstack(fill_value=0)
    bottom.plot(placed.index, placed.to_numpy(), color="black", lw=1, drawstyle="steps-mid", label="orders placed")
    base = np.zeros(len(per_cause))
    for cause in [c for c in CAUSES if c in per_cause.columns]:
        values = per_cause[cause].to_numpy()
        bottom.bar(
            per_cause.index, values, bottom=base, width=0.8, color=CAUSE_COLOURS[cause], label=f"cancelled: {cause}"
        )
        base = base + values
    registered = "" if created is None else ("; dotted: registration" if near else f"; registered {created:%Y-%m-%d}")
    bottom.set(xlabel=f"time (UTC); dashed: end of the as-of day{registered}", ylabel="orders per day", title="Per day")
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    locator = AutoDateLocator()
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    return fig


def feature_percentiles(run: str | Path, account_id: str) -> pd.DataFrame:
    """Every feature of `account_id` from the run's features.parquet against the population
    the run scored (scores.parquet): value, percentile (share of the population at or below
    the value, in percent, as in the reasons), the population's median, 90th and 99th
    percentile, and the catalogue's family, window, unit and meaning. NaN values are left out
    of the population; an account with a NaN value gets a NaN percentile."""
    run = Path(run)
    features = pl.read_parquet(run / "features.parquet")
    scored = pl.read_parquet(run / "scores.parquet", columns=["account_id"])
    population = features.join(scored, on="account_id", how="semi")
    mine = features.filter(pl.col("account_id") == account_id)
    if mine.is_empty():
        raise InputError(f"account {account_id} is not in {run / 'features.parquet'}")
    rows = []
    for name, f in _CATALOGUE.items():
        values = population[name].to_numpy()
        values = np.sort(values[~np.isnan(values)])
        value = mine[name][0]
        value = np.nan if value is None else float(value)
        pct = (
            100.0 * np.searchsorted(values, value, side="right") / max(len(values), 1) if np.isfinite(value) else np.nan
        )
        p50, p90, p99 = np.quantile(values, [0.5, 0.9, 0.99]) if len(values) else (np.nan,) * 3
        rows.append((name, f.family, f.window, f.unit, value, pct, p50, p90, p99, f.meaning))
    columns = ["feature", "family", "window", "unit", "value", "percentile", "p50", "p90", "p99", "meaning"]
    return pd.DataFrame(rows, columns=columns)


def percentile_figure(
    percentiles: pd.DataFrame, account_id: str, highlight: Sequence[str] = (), top: int = 20
) -> Figure:
    """Where the account sits in the population on its most unusual features: the `highlight`
    features (its reasons) and the others furthest from the median, ranked by how extreme
    their percentile is (features at the population's median value are not unusual)."""
    f = percentiles.dropna(subset=["percentile"])
    unusual = f[(f["value"] != f["p50"]) | f["feature"].isin(highlight)]
    extreme = np.maximum(unusual["percentile"], 100 - unusual["percentile"]) + 1000 * unusual["feature"].isin(highlight)
    shown = unusual.assign(extreme=extreme).sort_values("extreme", ascending=False).head(top).iloc[::-1]
    fig = Figure(figsize=(11, 0.32 * len(shown) + 1.6), layout="constrained")
    ax = fig.subplots()
    colours = np.where(shown["feature"].isin(highlight), "#c44e52", "#4c72b0")
    # Bars start at the median (50): a low extreme shows as clearly as a high one.
    ax.barh(shown["feature"], shown["percentile"] - 50, left=50, color=colours)
    ax.axvline(50, color="black", lw=0.8)
    for i, (_, r) in enumerate(shown.iterrows()):
        ax.text(101, i, f"{r['value']:.3g} (median {r['p50']:.3g})", va="center", fontsize=7)
    ax.set_xlim(0, 125)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set(
        xlabel="percentile in the scored population (share at or below the account's value, %)",
        title=f"{account_id}: most unusual features (red: cited as reasons)",
    )
    ax.tick_params(axis="y", labelsize=8)
    return fig


def ring_of(run: str | Path, account_id: str) -> str | None:
    """The account's ring_id in the run's feature table, or None outside a ring."""
    table = pl.read_parquet(Path(run) / "features.parquet", columns=["account_id", "ring_id"])
    found = table.filter(pl.col("account_id") == account_id)
    return None if found.is_empty() else found["ring_id"][0]


def ring_members(run: str | Path, ring_id: str) -> list[str]:
    """The accounts of `ring_id` in the run's feature table (as the run built the rings), sorted."""
    table = pl.read_parquet(Path(run) / "features.parquet", columns=["account_id", "ring_id"])
    return sorted(table.filter(pl.col("ring_id") == ring_id)["account_id"].to_list())


def ring_graph_for(data: Data, as_of: Day, members: Sequence[str], kinds: Sequence[str] = RING_KINDS) -> nx.Graph:
    """The ring as a bipartite networkx graph (``features.rings.ring_graph``): `members` and the
    entities of `kinds` (default devices, cards, addresses: what links rings) at least two of
    them share, from the rows known at the end of `as_of` only."""
    snap, t = snapshot(data), as_of_end(_day(as_of))
    tables = {"orders": snap.orders, "payment_attempts": snap.payment_attempts, "sessions": snap.sessions}
    # Cutting to the members first gives the same member links as cutting afterwards, much faster.
    view = {
        name: None if frame is None else known_at(name, frame.filter(pl.col("account_id").is_in(list(members))), t)
        for name, frame in tables.items()
    }
    links = entity_links(view).filter(pl.col("kind").is_in(list(kinds)))
    return ring_graph(links, list(members))


def member_status(review: str | sa.Engine, data: Data, as_of: Day, members: Sequence[str]) -> pd.DataFrame:
    """Per member, in the order given: `status` and the evidence behind it, by precedence:
    the latest analyst's decision on any queue row up to `as_of` (confirmed_abuse, cleared,
    escalated), "open" when queued on `as_of`, a snapshot label in force at the end of
    `as_of` ("labelled abuse", "labelled legit"), else "not queued". Columns account_id,
    status, rank and score (on `as_of`; NaN when not queued), queued_on (the date of the
    decided row), reviewed_by, reviewed_at, note, label, label_source."""
    day, members = _day(as_of), list(members)
    rows = review_db.read_queue(review_engine(review))
    rows = rows[rows["account_id"].isin(members) & (rows["as_of"] <= day)]
    decided = (
        rows[rows["status"] != "open"].sort_values(["reviewed_at", "as_of"]).drop_duplicates("account_id", keep="last")
    )
    decided = decided.set_index("account_id")
    today = rows[rows["as_of"] == day].set_index("account_id")
    labels = _labels_in_force_with_source(snapshot(data).labels, members, as_of_end(day))

    def of(column: pd.Series) -> np.ndarray:  # by member; `column`'s index (account_id) is unique
        return column.reindex(members).to_numpy()

    out = pd.DataFrame(
        {
            "account_id": members,
            "decision": of(decided["status"]),
            "rank": of(today["rank"]),
            "score": of(today["score"]),
            "queued_on": of(decided["as_of"]),
            "reviewed_by": of(decided["reviewed_by"]),
            "reviewed_at": of(decided["reviewed_at"]),
            "note": of(decided["note"]),
            "label": of(labels["label"]),
            "label_source": of(labels["source"]),
        }
    )
    status = np.select(
        [out["decision"].notna(), out["rank"].notna(), out["label"].eq("abuse"), out["label"].eq("legit")],
        [out["decision"].astype(object), "open", "labelled abuse", "labelled legit"],
        default="not queued",
    )
    return out.drop(columns="decision").assign(status=status.astype(str))[
        [
            "account_id",
            "status",
            "rank",
            "score",
            "queued_on",
            "reviewed_by",
            "reviewed_at",
            "note",
            "label",
            "label_source",
        ]
    ]


def _labels_in_force_with_source(labels: pl.DataFrame | None, members: list[str], t: datetime) -> pd.DataFrame:
    """label, decided_at and source of each member's label in force at t (models.dataset), indexed by account_id."""
    if labels is None:
        return pd.DataFrame(columns=["label", "decided_at", "source"], index=pd.Index([], name="account_id"))
    mine = labels.filter(pl.col("account_id").is_in(members))
    in_force = labels_in_force(mine, t).join(
        mine.select("account_id", "label", "decided_at", "source"), on=["account_id", "label", "decided_at"], how="left"
    )
    return in_force.unique("account_id", keep="first").to_pandas().set_index("account_id")


def ring_figure(graph: nx.Graph, status: pd.DataFrame, focus: str | None = None, title: str | None = None) -> Figure:
    """The ring drawn: accounts as circles coloured by `status` (a `member_status` frame), the
    shared entities as grey markers by kind, `focus` ringed in black."""
    fig = Figure(figsize=(11, 8.5), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title or "Ring", fontsize=13)
    if graph.number_of_nodes() == 0:
        return fig
    pos = nx.spring_layout(graph, seed=0, k=1.2 / np.sqrt(graph.number_of_nodes()))
    nx.draw_networkx_edges(graph, pos, ax=ax, edge_color="#b0b0b0", width=0.8)
    of = dict(zip(status["account_id"], status["status"], strict=True))
    accounts = [n for n, d in graph.nodes(data=True) if d["kind"] == "account"]
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=accounts,
        ax=ax,
        node_size=[420 if n == focus else 220 for n in accounts],
        node_color=[STATUS_COLOURS.get(of.get(n, "not queued"), "white") for n in accounts],
        edgecolors=["black" if n == focus else "#555555" for n in accounts],
        linewidths=[2.5 if n == focus else 0.6 for n in accounts],
    )
    above = {n: (x, y + 0.045) for n, (x, y) in pos.items()}  # names just above their circles
    nx.draw_networkx_labels(
        graph, above, labels={n: n for n in accounts}, ax=ax, font_size=7, verticalalignment="bottom"
    )
    kinds_present = []
    for kind, marker in ENTITY_MARKERS.items():
        nodes = [n for n, d in graph.nodes(data=True) if d["kind"] == kind]
        if nodes:
            kinds_present.append(kind)
            nx.draw_networkx_nodes(
                graph, pos, nodelist=nodes, ax=ax, node_shape=marker, node_size=70, node_color="#606060"
            )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            markersize=9,
            markerfacecolor=STATUS_COLOURS[s],
            markeredgecolor="#555555",
            label=f"{s} ({list(of.values()).count(s)})",
        )
        for s in STATUS_COLOURS
        if s in of.values()
    ]
    handles += [
        Line2D([], [], marker=ENTITY_MARKERS[k], ls="", markersize=7, color="#606060", label=f"shared {k}")
        for k in kinds_present
    ]
    if focus is not None:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                markersize=11,
                markerfacecolor="white",
                markeredgecolor="black",
                markeredgewidth=2.5,
                label=f"{focus} (investigated)",
            )
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, title="account status / entity")
    return fig


# -- the model --------------------------------------------------------------------------------


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    uri = sqlite_url(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def model_versions(tracking_uri: str) -> pd.DataFrame:
    """Every registered version of the model, oldest first: version, aliases (comma-separated),
    created (UTC), run_id, the run's as_of, feature_set_version, training and validation
    examples, and every metric the training run logged (precision_at_k, pr_auc, the baselines',
    champion_precision_at_k, ...)."""
    client = _client(tracking_uri)
    aliases: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(registry.MODEL_NAME).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name='{registry.MODEL_NAME}'"):
        run = client.get_run(mv.run_id)
        params = run.data.params
        rows.append(
            {
                "version": int(mv.version),
                "aliases": ", ".join(sorted(aliases.get(str(mv.version), []))),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC"),
                "run_id": mv.run_id,
                "as_of": params.get("as_of"),
                "feature_set_version": params.get("feature_set_version"),
                "train_examples": float(params.get("train_examples", "nan")),
                "valid_examples": float(params.get("valid_examples", "nan")),
                **run.data.metrics,
            }
        )
    return pd.DataFrame(rows).sort_values("version").reset_index(drop=True)


def metrics_figure(versions: pd.DataFrame) -> Figure:
    """Precision at k and PR-AUC of each version on its own validation window, with the naive
    baselines and (where logged) the then-champion on the same window."""
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    x = versions["version"].to_numpy()
    labels = [f"v{v}\n{a}" if a else f"v{v}" for v, a in zip(versions["version"], versions["aliases"], strict=True)]
    panels = ((left, "precision_at_k", "Precision at k (k = validation positives)"), (right, "pr_auc", "PR-AUC"))
    for ax, metric, title in panels:
        series = {"model": metric, **{f"baseline: {b}": f"baseline_{b}_{metric}" for b in BASELINES}}
        if metric == "precision_at_k":
            series["champion at the time"] = "champion_precision_at_k"
        for (name, column), style in zip(series.items(), ("-o", "--s", "--^", ":x"), strict=False):
            if column in versions.columns:
                ax.plot(x, versions[column].to_numpy(dtype=float), style, label=name)
        ax.set_xticks(x, labels)
        ax.set(xlabel="registered version", ylabel=metric.replace("_", " "), title=title, ylim=(0, 1.02))
        ax.legend(fontsize=8)
    fig.suptitle("Validation metrics across registered versions", fontsize=13)
    return fig


def logged_plots(tracking_uri: str, run_id: str, folder: str = "plots") -> dict[str, Path]:
    """The PNG plots the training run logged (pr_curve, precision_at_k, score_distribution,
    feature_importance), downloaded to a temporary folder: {name: path}."""
    client = _client(tracking_uri)
    target = Path(tempfile.mkdtemp(prefix="buyer-abuse-plots-"))
    with redirect_stderr(io.StringIO()):  # MLflow's download progress bar is noise in a notebook
        local = Path(client.download_artifacts(run_id, folder, str(target)))
    return {p.stem: p for p in sorted(local.glob("*.png"))}


def feature_importance(tracking_uri: str, alias: str = registry.CHAMPION) -> pd.DataFrame:
    """Gain and split importance of the model with `alias`, most important first, with each
    feature's family and meaning (version in the frame's `attrs["version"]`)."""
    # The package's registry functions read the store from the environment.
    loaded = registry.load(sqlite_url(tracking_uri), alias)
    booster = loaded.model.booster_
    frame = pd.DataFrame(
        {
            "feature": loaded.names,
            "gain": booster.feature_importance("gain"),
            "splits": booster.feature_importance("split"),
        }
    ).assign(
        family=lambda f: f["feature"].map(lambda n: _CATALOGUE[n].family if n in _CATALOGUE else None),
        meaning=lambda f: f["feature"].map(lambda n: _CATALOGUE[n].meaning if n in _CATALOGUE else None),
    )
    frame = frame.sort_values("gain", ascending=False).reset_index(drop=True)
    frame.attrs["version"] = loaded.version
    return frame


def importance_figure(importance: pd.DataFrame, top: int = 25) -> Figure:
    """``models.plots.importance_figure`` of a `feature_importance` frame."""
    fig = plots.importance_figure(importance["feature"].tolist(), importance["gain"].to_numpy(dtype=float), top)
    version = importance.attrs.get("version")
    if version:
        fig.axes[0].set_title(f"{registry.MODEL_NAME} v{version}: top {min(top, len(importance))} features by gain")
    return fig


# -- evaluation against the simulator's truth -------------------------------------------------


def ranked_population(data: Data, run: str | Path, labels: pd.DataFrame) -> pd.DataFrame:
    """The accounts the run could queue: those it scored, less those with an abuse label in
    force (`labels`, from `labels_at`), which the run never queues. One row each in the
    run's rank order: account_id, score, rank, and the naive baselines' inputs at the same
    instant (``models.evaluate.baseline_scores``: buyer_cancels_60d, cancel_rate, orders)."""
    run = Path(run)
    t = as_of_end(run_as_of(run))
    scores = pl.read_parquet(run / "scores.parquet")
    confirmed = labels.loc[labels["label"] == "abuse", "account_id"].tolist()
    baselines = baseline_scores(snapshot(data).orders, t)
    return (
        scores.filter(~pl.col("account_id").is_in(confirmed))
        .join(baselines, on="account_id", how="left")
        .with_columns(pl.col(*BASELINES, "orders").fill_null(0.0))
        .sort("rank")
        .to_pandas()
    )


def abusers_to_find(population: pd.DataFrame, truth_: pd.DataFrame) -> int:
    """The true abusers among a `ranked_population` (scored, no abuse label in force): the
    review capacity at which a perfect ranking would find them all."""
    return int(population["account_id"].isin(truth_.loc[truth_["is_abuser"], "account_id"]).sum())


_RANKER_ORDER = pl.DataFrame({"ranker": list(RANKERS.values()), "ranker_position": range(len(RANKERS))})


def _flagged(population: pl.DataFrame, k: int) -> pl.DataFrame:
    """`population` with a boolean column per ranker: among its k highest (ties as in models.evaluate)."""
    n = population.height
    columns = {}
    for column in RANKERS:
        tiebreak = None if column == "score" else population["orders"].to_numpy()
        order = ranked(np.arange(n), population[column].to_numpy(), tiebreak)
        top = np.zeros(n, dtype=bool)
        top[order[:k]] = True
        columns[f"flagged_{column}"] = top
    return population.with_columns(**{name: pl.Series(values) for name, values in columns.items()})


def _scored_truth(scores: pd.DataFrame, truth_: pd.DataFrame, labels: pd.DataFrame, k: int) -> pl.DataFrame:
    confirmed = set(labels.loc[labels["label"] == "abuse", "account_id"])
    population = pl.from_pandas(scores[~scores["account_id"].isin(confirmed)].reset_index(drop=True))
    if "orders" not in population.columns:
        population = population.with_columns(orders=pl.lit(0.0))
    for b in BASELINES:
        if b not in population.columns:
            raise ConfigError(f"scores need the baseline column {b}: use ranked_population")
    return _flagged(population, k).join(pl.from_pandas(truth_), on="account_id", how="inner")


def _per_ranker(frame: pl.DataFrame, by: str, k: int) -> pl.DataFrame:
    return pl.concat(
        slice_rates(frame, pl.col(f"flagged_{column}"), by).with_columns(ranker=pl.lit(name), k=pl.lit(k))
        for column, name in RANKERS.items()
    )


def pattern_recall(scores: pd.DataFrame, truth_: pd.DataFrame, labels: pd.DataFrame, k: int) -> pd.DataFrame:
    """Recall per abuse pattern at review capacity `k`, for the model and each naive baseline.

    `scores`: account_id, score and the baselines' columns (a `ranked_population`); accounts
    with an abuse label in force in `labels` are left out (the run never queues them). Long
    format: pattern, ranker, k, abusers (of the pattern in the population), found (among the
    ranker's top k), recall (found / abusers); an "all abuse" row per ranker."""
    frame = _scored_truth(scores, truth_, labels, k).filter(pl.col("is_abuser"))
    both = pl.concat([frame, frame.with_columns(pattern=pl.lit("all abuse"))])
    out = _per_ranker(both, "pattern", k).rename({"accounts": "abusers", "flagged": "found", "share": "recall"})
    # Patterns alphabetically, "all abuse" last; rankers in RANKERS order (model first).
    out = out.join(_RANKER_ORDER, on="ranker").sort(pl.col("pattern") == "all abuse", "pattern", "ranker_position")
    return out.select("pattern", "ranker", "k", "abusers", "found", "recall").to_pandas()


def lookalike_fp_share(scores: pd.DataFrame, truth_: pd.DataFrame, labels: pd.DataFrame, k: int) -> pd.DataFrame:
    """False positives per honest look-alike group (LOOKALIKES) at review capacity `k`, for the
    model and each naive baseline: group, ranker, k, accounts (honest accounts of the group in
    the population), flagged (of them among the top k), share (flagged / accounts: the group's
    false-positive rate) and fp_share (flagged / all honest accounts flagged by that ranker).
    Groups overlap (a remote household), so fp_share does not sum to one."""
    frame = _scored_truth(scores, truth_, labels, k).filter(~pl.col("is_abuser"))
    members = pl.concat(frame.filter(rule).with_columns(group=pl.lit(name)) for name, rule in LOOKALIKES.items())
    out = _per_ranker(members, "group", k)
    total = out.filter(pl.col("group") == "all honest accounts").select("ranker", total=pl.col("flagged"))
    order = pl.DataFrame({"group": list(LOOKALIKES), "position": range(len(LOOKALIKES))})
    return (
        out.join(total, on="ranker")
        .with_columns(fp_share=pl.when(pl.col("total") > 0).then(pl.col("flagged") / pl.col("total")).otherwise(None))
        .join(order, on="group")
        .join(_RANKER_ORDER, on="ranker")
        .sort("position", "ranker_position")
        .select("group", "ranker", "k", "accounts", "flagged", "share", "fp_share")
        .to_pandas()
    )


def slices_figure(
    table: pd.DataFrame, by: str, value: str, title: str, xlabel: str, k_names: dict[int, str] | None = None
) -> Figure:
    """Grouped horizontal bars of `value` per `by` (rows) and ranker (bars), one panel per k
    (titled with `k_names[k]` when given): for `pattern_recall` (by="pattern", value="recall")
    or `lookalike_fp_share` (by="group", value="share" or "fp_share")."""
    ks = sorted(table["k"].unique())
    fig = Figure(figsize=(6.5 * len(ks), 0.45 * table[by].nunique() * len(RANKERS) / 2 + 2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(ks), sharey=True))
    groups = list(dict.fromkeys(table[by]))
    height = 0.8 / len(RANKERS)
    for ax, k in zip(axes, ks, strict=True):
        part = table[table["k"] == k]
        for i, name in enumerate(RANKERS.values()):
            values = part[part["ranker"] == name].set_index(by)[value].reindex(groups).to_numpy(dtype=float)
            ax.barh(np.arange(len(groups)) + (i - (len(RANKERS) - 1) / 2) * height, values, height=height, label=name)
        ax.set_yticks(np.arange(len(groups)), groups)
        ax.set(xlabel=xlabel, title=f"k = {k}" + (f" ({k_names[k]})" if k_names and k in k_names else ""))
        ax.legend(fontsize=8)
    axes[0].invert_yaxis()  # the axes share y: inverting one inverts all (first row on top)
    fig.suptitle(title, fontsize=13)
    return fig


def truth_pr_figures(
    population: pd.DataFrame, truth_: pd.DataFrame, capacity: int, as_of: Day
) -> tuple[Figure, Figure]:
    """The PR curve and precision at k of the run's scores against the simulator's truth on
    a `ranked_population`, the baselines beside them (``models.plots``)."""
    frame = (
        pl.from_pandas(population)
        .join(pl.from_pandas(truth_[["account_id", "is_abuser"]]), on="account_id", how="left")
        .with_columns(y=pl.col("is_abuser").fill_null(False).cast(pl.Int8))
    )
    pr, at_k = plots.pr_figure(frame), plots.precision_at_k_figure(frame, capacity)
    pr.axes[0].set_title(f"Precision-recall against truth, run of {_day(as_of)}")
    at_k.axes[0].set_title(f"Precision at k against truth, run of {_day(as_of)}")
    return pr, at_k
