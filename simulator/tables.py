"""The market as contract tables: the arrays of the other modules turned into typed frames,
`market_tables` (the market piece by piece), `simulate_market` (all of it in memory) and
`write_market` (Parquet files), the only function of the simulator that touches files."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from contract.tables import polars_schema
from contract.values import CANCEL_INITIATORS
from simulator.entities import Pools, entity_pools
from simulator.labels import Labels, bans, review_labels
from simulator.orders import Plan, campaigns, order_plan, sellers
from simulator.outcomes import Outcome, outcomes
from simulator.params import (
    COUNTRIES,
    DAY,
    DISPOSABLE_DOMAINS,
    EMAIL_DOMAINS,
    FAILURE_CODES,
    ITEMS_PER_SELLER,
    MISSING,
    PATTERNS,
    REASONS,
    REGIONS_PER_COUNTRY,
    REMOTE_REGIONS,
    SOURCES,
    MarketConfig,
)
from simulator.population import Accounts, abuse_onset, active_window, population
from simulator.variation import market_patterns

log = logging.getLogger("buyer_abuse")

ORDER_CHUNK = 1_000_000  # orders whose outcomes and rows are made at once: bounds the memory

# track(items, description, total) -> the same items, perhaps reporting progress on the way.
Track = Callable[[Iterable[Any], str, int], Iterable[Any]]


def untracked(items: Iterable[Any], description: str, total: int | None = None) -> Iterable[Any]:
    """Plain iteration: the default `track` of market_tables and write_market."""
    return items


def _ids(prefix: str, index: np.ndarray, *, null_below_zero: bool = True) -> pl.Series:
    s = prefix + pl.Series(index, dtype=pl.Int64).cast(pl.String)
    if null_below_zero:
        s = pl.select(pl.when(pl.Series(index) >= 0).then(s)).to_series()
    return s


def _times(start_us: int, seconds: np.ndarray) -> pl.Series:
    """UTC timestamps from seconds after the market start; MISSING becomes null."""
    present = seconds != MISSING
    us = pl.Series(np.where(present, start_us + seconds * 1_000_000, 0), dtype=pl.Int64)
    return pl.select(pl.when(pl.Series(present)).then(us.cast(pl.Datetime("us", "UTC")))).to_series()


def _codes(names: tuple[str, ...], index: np.ndarray) -> pl.Series:
    return pl.select(pl.when(pl.Series(index) >= 0).then(pl.Series(names).gather(np.maximum(index, 0)))).to_series()


def market_tables(cfg: MarketConfig, track: Track = untracked) -> Iterator[tuple[str, pl.DataFrame]]:
    """(table name, rows) pieces of the market as of its end: the account tables whole, then
    orders and payment attempts in chunks of ORDER_CHUNK orders (tables in contract types).
    `track(items, description, total)` may report progress over the order chunks."""
    rng = np.random.default_rng(cfg.seed)
    end, start_us = cfg.days * DAY, cfg.start_us
    patterns = market_patterns(cfg)  # its own generator: the draws below stay where they were
    # The order of these draws is the market: each step consumes the one generator in turn.
    acc = population(rng, cfg, patterns)
    pools = entity_pools(rng, acc, patterns)
    first_abuse = abuse_onset(rng, acc)
    label = review_labels(rng, cfg, acc, first_abuse)
    # Labels come before orders and sessions because a label may ban: every later step sees the bans.
    acc = replace(acc, ban=bans(label, acc.n, cfg.label_process))
    n_sellers = sellers(cfg)
    seller_p = 1.0 / np.arange(1, n_sellers + 1) ** 1.1
    seller_p /= seller_p.sum()
    seller_stockout = np.clip(rng.lognormal(np.log(0.015), 0.8, n_sellers), 0, 0.3)
    # Carriers fail rarely in most regions and often in remote ones, some far worse than others.
    region_failure = rng.uniform(0.005, 0.03, (len(COUNTRIES), REGIONS_PER_COUNTRY))
    region_failure[:, REMOTE_REGIONS] = rng.uniform(0.15, 0.6, (len(COUNTRIES), len(REMOTE_REGIONS)))
    camp = campaigns(rng, cfg, seller_p)
    # Account ids are a random permutation, so an id says nothing about the account.
    account_ids = _ids("u", rng.permutation(acc.n) + 100_000)
    yield from _account_tables(rng, acc, pools, label, first_abuse, end, start_us, account_ids)

    log.info("simulating orders for %d accounts over %d days", acc.n, cfg.days)
    plan = order_plan(rng, cfg, acc, patterns, seller_p, camp)
    behaviour = patterns.behaviour_table()
    attempts_made = 0
    chunks = range(0, len(plan), ORDER_CHUNK)
    for first in track(chunks, "order chunks", len(chunks)):
        chunk = plan.take(slice(first, first + ORDER_CHUNK))
        out = outcomes(rng, chunk, acc, pools, camp, behaviour, seller_stockout, region_failure)
        orders = _orders(rng, acc, pools, chunk, out, first, end, start_us, account_ids, camp.names)
        yield "orders", orders
        yield "payment_attempts", _payment_attempts(out, orders, attempts_made, end, start_us)
        attempts_made += len(out.attempts["order"])


def _cut(seconds: np.ndarray, end: int) -> np.ndarray:
    """A state reached at or after the end of the market is not in the snapshot."""
    return np.where(seconds < end, seconds, MISSING)


def _typed(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(pl.col(c).cast(t) for c, t in polars_schema(name).items())


def _orders(
    rng,
    acc: Accounts,
    pools,
    plan: Plan,
    out: Outcome,
    first: int,
    end: int,
    start_us: int,
    account_ids: pl.Series,
    campaign_names: tuple[str, ...],
) -> pl.DataFrame:
    n = len(plan.account)
    cancelled = _cut(out.cancelled, end)
    is_cancelled = cancelled != MISSING
    country = np.array(list(COUNTRIES))
    gift = rng.random(n) < 0.03  # a few orders ship to another country
    ship_country = np.where(gift, rng.integers(0, len(country), n), acc.country[plan.account])
    region = np.where(gift, rng.integers(0, REGIONS_PER_COUNTRY, n), acc.region[plan.account])
    region_code = pl.Series(country[ship_country]) + "-" + pl.Series(region + 1).cast(pl.String).str.zfill(2)
    paid = _cut(out.paid, end)
    return _typed(
        "orders",
        pl.DataFrame(
            {
                "order_id": _ids("o", first + np.arange(n)),
                "account_id": account_ids.gather(plan.account),
                "seller_id": _ids("s", plan.item // ITEMS_PER_SELLER),
                "item_id": _ids("i", plan.item),
                "campaign_id": _codes(campaign_names, plan.campaign),
                "placed_at": _times(start_us, plan.placed),
                "paid_at": _times(start_us, paid),
                "shipped_at": _times(start_us, _cut(out.shipped, end)),
                "delivered_at": _times(start_us, _cut(out.delivered, end)),
                "cancelled_at": _times(start_us, cancelled),
                "cancel_initiator": _codes(CANCEL_INITIATORS, np.where(is_cancelled, out.initiator, -1)),
                "cancel_reason": _codes(REASONS, np.where(is_cancelled, out.reason, -1)),
                "amount_usd": out.amount,
                "discount_usd": out.discount,
                "item_count": 1 + rng.poisson(0.3, n),
                "ship_country": pl.Series(country[ship_country]),
                "ship_region": region_code,
                "address_id": _ids("a", pools["address"].pick(rng, plan.account)),
                "device_id": _ids("d", np.where(rng.random(n) < 0.02, -1, pools["device"].pick(rng, plan.account))),
                "ip_prefix": _ids("ip", pools["net"].pick(rng, plan.account)),
                "payment_instrument_id": _ids("c", np.where(paid != MISSING, out.instrument, -1)),
            }
        ),
    )


def _payment_attempts(out: Outcome, orders: pl.DataFrame, attempts_made: int, end: int, start_us: int) -> pl.DataFrame:
    att = out.attempts
    keep = att["at"] < end
    order_of = att["order"][keep]
    return _typed(
        "payment_attempts",
        pl.DataFrame(
            {
                "attempt_id": _ids("p", attempts_made + np.flatnonzero(keep)),
                "order_id": orders["order_id"].gather(order_of),
                "account_id": orders["account_id"].gather(order_of),
                "instrument_id": _ids("c", att["instrument"][keep]),
                "attempted_at": _times(start_us, att["at"][keep]),
                "succeeded": att["succeeded"][keep],
                "failure_code": _codes(FAILURE_CODES, att["code"][keep]),
            }
        ),
    )


def _account_tables(
    rng,
    acc: Accounts,
    pools: dict[str, Pools],
    label: Labels,
    first_abuse: np.ndarray,
    end: int,
    start_us: int,
    account_ids: pl.Series,
):
    """accounts, sessions, labels and truth."""
    country = np.array(list(COUNTRIES))
    email = np.where(
        acc.is_abuser & (rng.random(acc.n) < 0.45) | (rng.random(acc.n) < 0.03),
        rng.integers(len(EMAIL_DOMAINS), len(EMAIL_DOMAINS) + len(DISPOSABLE_DOMAINS), acc.n),
        rng.integers(0, len(EMAIL_DOMAINS), acc.n),
    )
    verified = np.where(acc.is_abuser, rng.random(acc.n) < 0.25, rng.random(acc.n) < 0.7)
    yield (
        "accounts",
        _typed(
            "accounts",
            pl.DataFrame(
                {
                    "account_id": account_ids,
                    "created_at": _times(start_us, acc.created),
                    "country": pl.Series(country[acc.country]),
                    "email_domain": _codes(
                        EMAIL_DOMAINS + DISPOSABLE_DOMAINS, np.where(rng.random(acc.n) < 0.02, -1, email)
                    ),
                    "phone_verified": pl.Series(verified).set(pl.Series(rng.random(acc.n) < 0.05), None),
                }
            ),
        ),
    )
    yield "sessions", _typed("sessions", _sessions(rng, acc, pools, end, start_us, account_ids))
    yield (
        "labels",
        _typed(
            "labels",
            pl.DataFrame(
                {
                    "account_id": account_ids.gather(label.account),
                    "label": np.where(label.abuse, "abuse", "legit"),
                    "decided_at": _times(start_us, label.decided),
                    "source": pl.Series(SOURCES).gather(label.source),
                }
            ).sort("decided_at"),
        ),
    )
    yield (
        "truth",
        pl.DataFrame(
            {
                "account_id": account_ids,
                "is_abuser": acc.is_abuser,
                "pattern": pl.Series(PATTERNS).gather(acc.pattern),
                "group": _ids("g", acc.group.astype(np.int64)),
                "remote": np.isin(acc.region, REMOTE_REGIONS),
                # When the abuse began (null for honest accounts): label delays count from it.
                "first_abuse_at": _times(start_us, _cut(first_abuse, end)),
            }
        ),
    )


def simulate_market(cfg: MarketConfig, track: Track = untracked) -> dict[str, pl.DataFrame]:
    """The snapshot tables (contract section 1) and `truth`, as of the end of the market."""
    pieces: dict[str, list[pl.DataFrame]] = {}
    for name, frame in market_tables(cfg, track):
        pieces.setdefault(name, []).append(frame)
    return {name: pl.concat(frames) for name, frames in pieces.items()}


def _sessions(rng, acc: Accounts, pools, end: int, start_us: int, account_ids: pl.Series) -> pl.DataFrame:
    """Logins: a few per account over its active life, from its own devices and networks."""
    start, stop = active_window(acc, end)
    counts = rng.poisson(1.0 + 0.8 * acc.rate * (stop - start) / DAY)
    account = np.repeat(np.arange(acc.n), counts)
    started = start[account] + (rng.random(len(account)) * (stop - start)[account]).astype(np.int64)
    device = pools["device"].pick(rng, account)
    has_device = device >= 0
    return pl.DataFrame(
        {
            "account_id": account_ids.gather(account[has_device]),
            "device_id": _ids("d", device[has_device]),
            "ip_prefix": _ids("ip", pools["net"].pick(rng, account[has_device])),
            "started_at": _times(start_us, started[has_device]),
        }
    ).sort("started_at")


def market_parameters(cfg: MarketConfig) -> dict:
    """Every parameter the market `cfg` is made with, after the variation's draw: its
    configuration, label process and pattern parameters (what market.json records)."""
    config = {
        "accounts": cfg.accounts,
        "days": cfg.days,
        "seed": cfg.seed,
        "start": cfg.start.isoformat(),
        "variation": cfg.variation,
        "label_process": cfg.label_process.as_dict(),
    }
    return {"config": config, "patterns": market_patterns(cfg).as_dict()}


def write_market(cfg: MarketConfig, out: Path, track: Track = untracked) -> dict[str, int]:
    """Simulate and write every table as OUT/NAME.parquet plus truth.parquet, chunk by chunk;
    returns row counts. Files are written under temporary names and renamed when complete."""
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    counts: dict[str, int] = {}
    try:
        for name, frame in market_tables(cfg, track):
            table = frame.to_arrow()
            if name not in writers:
                writers[name] = pq.ParquetWriter(out / f".{name}.parquet.partial", table.schema, compression="zstd")
            writers[name].write_table(table)
            counts[name] = counts.get(name, 0) + frame.height
    finally:
        for writer in writers.values():
            writer.close()
    for name in writers:
        (out / f".{name}.parquet.partial").replace(out / f"{name}.parquet")
    (out / "market.json").write_text(json.dumps({**market_parameters(cfg), "rows": counts}, indent=2, allow_nan=False))
    log.info("wrote %s", ", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    return counts
