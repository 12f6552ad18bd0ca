"""The seller side of abusive cancellations: which cancelled orders suspects caused, what that
did to each seller's cancellation rate and flash-sale stock, and which sellers they aimed at.

The counting rules, each defined here once (tests/models/test_sellers.py pins them):

* **The window**: orders placed in the ``SELLER_WINDOW_DAYS`` days before t, each in its state
  known at t (``features.time.known_at``): a cancellation after t has not happened yet.
* **A suspect** is a buyer whose decision in force at t is abuse (*confirmed*: a label or an
  analyst's verdict decided before t, ``features.labels``), or who is in the run's review
  queue (*queued*), or whose score is at or above the run's review cut (*above_cut*,
  ``models.queue.review_cut``). A buyer whose decision in force at t is legit is no suspect,
  whatever the score; a decision taken at or after t counts for nothing.
* **An abuse-driven cancellation** is a cancellation of a suspect's order that the buyer caused
  (``contract.values.BUYER_CAUSED``: cancelled, refused, or never paid). A seller's stock-out,
  a carrier's failure or a platform hold is never abuse-driven, whoever the buyer.
* **The corrected rate** treats the abuse-driven orders as never placed: (cancellations −
  abuse) / (orders − abuse). Rates carry a Wilson score interval, which stays inside 0..1 and
  stays wide for a seller with a handful of orders.
* **Targeting**: each attacking group (a linked-account ring, else one account) adds, for each
  seller, its abuse-driven cancellations there times the share of all its abuse-driven
  cancellations that landed there. A ring spread over every flash sale adds little to any one
  seller; a group that sends most of its cancellations to one merchant adds almost all of them.

Pure functions over polars frames; ``pipeline.run`` writes what they return.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from statsmodels.stats.proportion import proportion_confint

from contract.outputs import SELLER_CANCELS, SELLER_EXPOSURE, SELLER_WINDOW_DAYS
from contract.values import BUYER_CAUSED, CANCEL_INITIATORS, CANCEL_STAGES, SUSPECT_BASES, SuspectBasis
from features.context import campaign_context
from features.history import order_facts
from features.labels import is_confirmed_abuser, labels_in_force
from features.time import Frame, known_at

WINDOW = timedelta(days=SELLER_WINDOW_DAYS)
CONFIDENCE = 0.95  # of the Wilson intervals
REASON_GROUPS = 3  # attacking groups described per seller
REASON_ACCOUNTS = 5  # accounts named per group
REASON_ITEMS = 3  # items named per group
ABUSE = "abuse"  # the cause of an abuse-driven cancellation (else the cause is its initiator)
_BASIS_ORDER = {basis: i for i, basis in enumerate(SUSPECT_BASES)}  # strongest first


def suspects(
    labels: pl.DataFrame | None, queued: Collection[str], scores: pl.DataFrame, cut: float | None, t: datetime
) -> pl.DataFrame:
    """account_id, confirmed, queued, above_cut (bools) and basis (the strongest of them,
    ``contract.values.SuspectBasis``) of every suspect at t: see the module's rules. `labels`
    holds every label row (snapshot and analysts' verdicts; None: none), `queued` the accounts
    of the run's review queue, `scores` the run's account_id and score, `cut` its review cut."""
    in_force = (
        labels_in_force(labels, t)
        if labels is not None
        else pl.DataFrame(schema={"account_id": pl.String, "label": pl.String})
    )
    confirmed = in_force.filter(is_confirmed_abuser())["account_id"]
    cleared = in_force.filter(~is_confirmed_abuser())["account_id"]
    above = scores.filter(pl.col("score") >= cut)["account_id"] if cut is not None else pl.Series([], dtype=pl.String)
    queued = pl.Series(list(queued), dtype=pl.String)
    ids = pl.concat([confirmed, queued, above]).unique().sort()
    flags = pl.DataFrame({"account_id": ids}).with_columns(
        confirmed=pl.col("account_id").is_in(confirmed.implode()),
        queued=pl.col("account_id").is_in(queued.implode()),
        above_cut=pl.col("account_id").is_in(above.implode()),
    )
    strongest = (
        pl.when(pl.col("confirmed"))
        .then(pl.lit(SuspectBasis.CONFIRMED.value))
        .when(pl.col("queued"))
        .then(pl.lit(SuspectBasis.QUEUED.value))
        .otherwise(pl.lit(SuspectBasis.ABOVE_CUT.value))
    )
    return flags.filter(~pl.col("account_id").is_in(cleared.implode())).with_columns(basis=strongest)


def window_orders(orders: Frame, t: datetime) -> pl.DataFrame:
    """The orders placed in the window before t as known at t, with `cancelled`, `stage` and
    `flash` (``features.history.order_facts``; a flash sale as ``features.context`` decides)."""
    known = known_at("orders", orders.lazy(), t)
    campaigns = campaign_context(known)
    return order_facts(known.filter(pl.col("placed_at") >= t - WINDOW), campaigns).collect()


def cancellations(window: pl.DataFrame, suspected: pl.DataFrame, rings: pl.DataFrame) -> pl.DataFrame:
    """One row per cancelled order of `window` (``window_orders``), columns as
    ``contract.outputs.SELLER_CANCELS``: its buyer's ring (`rings`: account_id, ring_id),
    suspect flags (`suspected`, from ``suspects``), whether it is abuse-driven and its cause."""
    flags = ("confirmed", "queued", "above_cut")
    abuse = pl.col("basis").is_not_null() & pl.col("cancel_initiator").is_in(BUYER_CAUSED)
    return (
        window.filter(pl.col("cancelled"))
        .join(rings.select("account_id", "ring_id"), on="account_id", how="left")
        .join(suspected.select("account_id", *flags, "basis"), on="account_id", how="left")
        .with_columns(
            pl.col(flags).fill_null(False), abuse_driven=abuse, item_count=pl.col("item_count").cast(pl.Int64)
        )
        .with_columns(cause=pl.when("abuse_driven").then(pl.lit(ABUSE)).otherwise(pl.col("cancel_initiator")))
        .select(c.name for c in SELLER_CANCELS)
        .sort("seller_id", "cancelled_at", "order_id")
    )


def _wilson(events: np.ndarray, trials: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate and its Wilson interval; NaN where there are no trials."""
    ok = trials > 0
    rate, low, high = (np.full(len(trials), np.nan) for _ in range(3))
    if ok.any():
        rate[ok] = events[ok] / trials[ok]
        low[ok], high[ok] = proportion_confint(events[ok], trials[ok], alpha=1 - CONFIDENCE, method="wilson")
    return rate, low, high


def _attackers(cancels: pl.DataFrame) -> pl.DataFrame:
    """Per (seller, attacking group) with abuse-driven cancellations: orders, the group's share of
    its abuse-driven cancellations that landed on the seller, its ring, accounts, basis and items."""
    abuse = cancels.filter(pl.col("abuse_driven")).with_columns(
        group=pl.when(pl.col("ring_id").is_not_null())
        .then(pl.lit("ring:") + pl.col("ring_id"))
        .otherwise(pl.lit("account:") + pl.col("account_id")),
        strength=pl.col("basis").replace_strict(_BASIS_ORDER, return_dtype=pl.Int8),
    )
    items = (
        abuse.group_by("seller_id", "group", "item_id")
        .len()
        .sort(["len", "item_id"], descending=[True, False])
        .group_by("seller_id", "group", maintain_order=True)
        .agg(items=pl.struct(item_id="item_id", orders="len").head(REASON_ITEMS))
    )
    per_pair = abuse.group_by("seller_id", "group").agg(
        orders=pl.len(),
        ring_id=pl.col("ring_id").first(),
        accounts=pl.col("account_id").unique().sort(),
        strength=pl.col("strength").min(),
    )
    return (
        per_pair.with_columns(share=pl.col("orders") / pl.col("orders").sum().over("group"))
        .join(items, on=["seller_id", "group"])
        .with_columns(basis=pl.col("strength").replace_strict(dict(enumerate(SUSPECT_BASES)), return_dtype=pl.String))
        .sort(["seller_id", "orders", "group"], descending=[False, True, False])
    )


def _reason(row: dict) -> dict:
    accounts = row["accounts"]
    named = ", ".join(accounts[:REASON_ACCOUNTS]) + (", ..." if len(accounts) > REASON_ACCOUNTS else "")
    plural = "s" if len(accounts) > 1 else ""
    who = f"ring {row['ring_id']} ({len(accounts)} account{plural}: {named})" if row["ring_id"] else f"account {named}"
    items = ", ".join(f"{i['item_id']} ({i['orders']})" for i in row["items"])
    text = (
        f"{who}, {row['basis'].replace('_', ' ')}, cancelled {row['orders']} orders here "
        f"({row['share']:.0%} of its abuse-driven cancellations); items {items}"
    )
    return {
        "ring_id": row["ring_id"],
        "accounts": accounts,
        "basis": row["basis"],
        "orders": row["orders"],
        "share": round(row["share"], 4),
        "items": row["items"],
        "text": text,
    }


def seller_exposure(window: pl.DataFrame, cancels: pl.DataFrame) -> pl.DataFrame:
    """One row per seller with a cancelled order in `window` (``window_orders``), from its
    `cancels` (``cancellations``): the columns of ``contract.outputs.SELLER_EXPOSURE`` but
    as_of, most targeted seller first, then sellers without abuse-driven cancellations by
    seller_id."""
    volume = window.group_by("seller_id").agg(
        orders=pl.len(), flash_units=pl.col("item_count").filter(pl.col("flash")).sum().cast(pl.Int64)
    )
    abuse = pl.col("abuse_driven")
    counts = cancels.group_by("seller_id").agg(
        cancellations=pl.len(),
        **{f"cancelled_by_{who}": (pl.col("cancel_initiator") == who).sum() for who in CANCEL_INITIATORS},
        **{f"cancelled_{stage}": (pl.col("stage") == stage).sum() for stage in CANCEL_STAGES},
        abuse_cancels=abuse.sum(),
        **{f"abuse_cancels_{basis}": (abuse & pl.col(basis)).sum() for basis in SUSPECT_BASES},
        suspect_buyers=pl.col("account_id").filter(abuse).n_unique(),
        suspect_rings=pl.col("ring_id").filter(abuse).drop_nulls().n_unique(),
        flash_units_abused=pl.col("item_count").filter(abuse & pl.col("flash")).sum(),
    )
    attackers = _attackers(cancels)
    targets = attackers.group_by("seller_id").agg(
        target_score=(pl.col("orders") * pl.col("share")).sum(),
        reasons=pl.struct(pl.all()).head(REASON_GROUPS),  # sorted most orders first by _attackers
    )
    out = counts.join(volume, on="seller_id", how="left").join(targets, on="seller_id", how="left")
    cancelled, orders, abused = (out[c].to_numpy().astype(float) for c in ("cancellations", "orders", "abuse_cancels"))
    rate, low, high = _wilson(cancelled, orders)
    fixed, fixed_low, fixed_high = _wilson(cancelled - abused, orders - abused)
    nullable = lambda values: pl.Series(values).fill_nan(None)
    out = out.with_columns(
        pl.col("^(cancelled|abuse_cancels|suspect_|flash_units).*$").cast(pl.Int64),
        pl.col("cancellations", "orders").cast(pl.Int64),
        cancel_rate=pl.Series(rate),
        cancel_rate_low=pl.Series(low),
        cancel_rate_high=pl.Series(high),
        corrected_cancel_rate=nullable(fixed),
        corrected_rate_low=nullable(fixed_low),
        corrected_rate_high=nullable(fixed_high),
        flash_abused_share=pl.when(pl.col("flash_units") > 0).then(
            pl.col("flash_units_abused") / pl.col("flash_units")
        ),
        target_score=pl.col("target_score").fill_null(0.0),
        reasons=pl.Series(
            [json.dumps([_reason(r) for r in rows or []]) for rows in out["reasons"].to_list()], dtype=pl.String
        ),
    )
    ranked = (
        out.filter(pl.col("abuse_cancels") > 0)
        .sort(["target_score", "seller_id"], descending=[True, False])
        .with_row_index("target_rank", offset=1)
        .select("seller_id", pl.col("target_rank").cast(pl.Int64))
    )
    columns = [c.name for c in SELLER_EXPOSURE if c.name != "as_of"]
    return (
        out.join(ranked, on="seller_id", how="left").sort("target_rank", "seller_id", nulls_last=True).select(columns)
    )


def seller_page(cancels: pl.DataFrame, seller_id: str) -> dict[str, pl.DataFrame]:
    """What a page about one seller shows, from its run's `cancels` (``cancellations``):
    `timeline` (day, cause, cancellations: one row per day and cause, abuse-driven ones under
    cause ``abuse``) and `accounts` (per buyer who cancelled there: account_id, ring_id, basis,
    cancellations, abuse_cancels, items; abuse-driven first). Empty frames for a seller
    without cancellations."""
    mine = cancels.filter(pl.col("seller_id") == seller_id)
    timeline = (
        mine.group_by(day=pl.col("cancelled_at").dt.date(), cause="cause")
        .agg(cancellations=pl.len())
        .sort("day", "cause")
    )
    accounts = (
        mine.group_by("account_id")
        .agg(
            ring_id=pl.col("ring_id").first(),
            basis=pl.col("basis").first(),
            cancellations=pl.len(),
            abuse_cancels=pl.col("abuse_driven").sum().cast(pl.Int64),
            items=pl.col("item_id").unique().sort(),
        )
        .sort(["abuse_cancels", "cancellations", "account_id"], descending=[True, True, False])
    )
    return {"timeline": timeline, "accounts": accounts}
