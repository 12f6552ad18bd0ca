"""The accounts of the market: each one's pattern, group, creation time, place, order rate and
its own variation around its pattern."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.params import (
    ABUSE,
    ABUSE_ONSET_DAYS,
    BEHAVIOUR_COLUMNS,
    COUNTRIES,
    DAY,
    HONEST,
    MISSING,
    NEVER,
    PATTERNS,
    REGIONS_PER_COUNTRY,
    REMOTE_REGIONS,
    MarketConfig,
    P,
    Patterns,
)


@dataclass(frozen=True)
class Accounts:
    """One entry per account, indexed 0..n-1 (ids are shuffled later)."""

    pattern: np.ndarray  # int8 code into PATTERNS
    group: np.ndarray  # int32 household / ring number, -1 alone
    created: np.ndarray  # int64 seconds from market start (negative: before)
    country: np.ndarray  # int8 index into COUNTRIES
    region: np.ndarray  # int8 region 0..9 within the country
    rate: np.ndarray  # float ordinary orders per day
    ban: np.ndarray  # int64 seconds: no order at or after this (a confirmed abuse label); NEVER if none
    fickleness: np.ndarray  # multiplies the account's cancel and non-payment propensities
    card_failure: np.ndarray  # per-attempt failure probability of the account's cards

    @property
    def n(self) -> int:
        return len(self.pattern)

    @property
    def is_abuser(self) -> np.ndarray:
        return self.pattern >= len(HONEST)


def leader(group: np.ndarray) -> np.ndarray:
    """For each account, the first account of its group (itself when alone)."""
    first_of = np.arange(len(group))
    grouped = np.flatnonzero(group >= 0)
    first = np.full(int(group.max()) + 1 if len(grouped) else 0, len(group))
    np.minimum.at(first, group[grouped], grouped)
    first_of[grouped] = first[group[grouped]]
    return first_of


def active_window(acc: Accounts, end: int) -> tuple[np.ndarray, np.ndarray]:
    """Seconds from the market start: each account's first and last active moment (a ban ends it)."""
    start = np.maximum(acc.created, 0)
    stop = np.minimum(acc.ban, end)
    return start, np.maximum(stop, start)


def population(rng: np.random.Generator, cfg: MarketConfig, patterns: Patterns) -> Accounts:
    """Every account of the market, unbanned (labels.bans says who is banned when)."""
    n, end = cfg.accounts, cfg.days * DAY
    pattern = np.full(n, P["regular"], dtype=np.int8)
    group = np.full(n, -1, dtype=np.int32)
    next_slot, next_group = 0, 0
    for name, (share, lo, hi) in patterns.shares.items():
        target = max(round(share * n), lo if name in ABUSE else 0)
        sizes = rng.integers(lo, hi + 1, size=target // lo + 1)
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), target) + 1]
        sizes[-1] -= max(0, int(sizes.sum()) - target)
        sizes = sizes[sizes > 0]
        if next_slot + sizes.sum() > n:
            break
        ids = np.repeat(np.arange(next_group, next_group + len(sizes)), sizes)
        pattern[next_slot : next_slot + len(ids)] = P[name]
        group[next_slot : next_slot + len(ids)] = ids if hi > 1 else -1
        next_slot, next_group = next_slot + len(ids), next_group + len(sizes)

    abuser = pattern >= len(HONEST)
    # Honest buyers: most registered long before the market starts, some during it.
    created = np.where(rng.random(n) < 0.85, -rng.integers(1, 3 * 365 * DAY, n), rng.integers(0, end, n))
    # Abuse groups form at one moment and register their accounts within a couple of days;
    # sabotage and serial accounts are often aged accounts.
    n_groups = next_group + 1
    formed = rng.integers(-20 * DAY, max(end - 10 * DAY, DAY), n_groups)
    abuse_created = formed[np.maximum(group, 0)] + rng.integers(0, 2 * DAY, n)
    lone = group < 0
    abuse_created[lone] = rng.integers(-30 * DAY, max(end - 10 * DAY, DAY), int(lone.sum()))
    aged = np.isin(pattern, [P["seller_sabotage"], P["serial_canceller"], P["coupon_ring"]]) & (rng.random(n) < 0.4)
    abuse_created[aged] = -rng.integers(60 * DAY, 2 * 365 * DAY, int(aged.sum()))
    created = np.where(abuser, abuse_created, created)

    weights = np.array([w for w, _ in COUNTRIES.values()])
    country = rng.choice(len(COUNTRIES), size=n, p=weights / weights.sum()).astype(np.int8)
    region = rng.integers(0, REGIONS_PER_COUNTRY - len(REMOTE_REGIONS), n).astype(np.int8)
    remote = rng.random(n) < 0.12
    region[remote] = rng.choice(REMOTE_REGIONS, int(remote.sum()))
    # A household or ring lives (or ships) in one place.
    country, region = country[leader(group)], region[leader(group)]

    medians = np.array([patterns.order_rate[p] for p in PATTERNS])[pattern]
    rate = medians * rng.lognormal(0.0, 0.6, n)
    ban = np.full(n, NEVER, dtype=np.int64)
    # Buyers of one kind still differ: some cancel twice as often as their peers, some half.
    fickleness = rng.lognormal(0.0, 0.5, n)
    base_failure = patterns.behaviour_table()[pattern, BEHAVIOUR_COLUMNS.index("p_fail")]
    trouble = rng.uniform(*patterns.card_trouble_failure, n)
    card_failure = np.where(pattern == P["card_trouble"], trouble, base_failure)
    return Accounts(pattern, group, created.astype(np.int64), country, region, rate, ban, fickleness, card_failure)


def abuse_onset(rng: np.random.Generator, acc: Accounts) -> np.ndarray:
    """Seconds from the market start: when each abuser's abuse began, within ABUSE_ONSET_DAYS
    of its first active moment (MISSING for honest accounts). Label delays count from it.

    Drawn after the entity pools, where the simulator always drew it, so that the same seed
    still gives the same market."""
    onset = np.maximum(acc.created, 0) + rng.integers(0, ABUSE_ONSET_DAYS * DAY, acc.n)
    return np.where(acc.is_abuser, onset, MISSING)
