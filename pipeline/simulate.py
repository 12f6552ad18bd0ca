"""A synthetic cross-border marketplace in the format of docs/data_contract.md section 1.

The market is built so that a model which does well on it has to learn what separates
abuse from honest misfortune, not read one column:

* **Benign cancellations** with the initiator and reason the contract names: logistics
  failures concentrated in remote regions (undeliverable address, no carrier coverage) and
  in a few destination countries (customs holds), merchant stock-outs concentrated in flash
  sales, payment failures and timeouts, ordinary buyer remorse.
* **Honest look-alikes** (``truth.pattern``): ``heavy_buyer`` (resellers: many orders and
  cancels), ``fickle`` (cancel often, sometimes fast), ``household`` (2-4 accounts sharing a
  device, address and sometimes a card), ``card_trouble`` (cards keep failing),
  ``flash_fan`` (flash-sale regulars, the stock-out victims), ``discount_hunter`` (most
  orders discounted); plus everyone behind a mobile carrier's shared network prefix, a few
  shared public devices, and ``truth.remote`` buyers in remote regions.
* **Abuse** (``truth.is_abuser``): ``hoarding_ring`` (fresh accounts on a device farm grab
  flash-sale stock and leave it unpaid or cancel fast), ``coupon_ring`` (shared cards,
  rotating devices, discounted orders paid then cancelled), ``seller_sabotage`` (orders
  concentrated on a competitor's items, cancelled after shipment), ``card_testing`` (many
  instruments tried, mostly declined), ``serial_canceller`` (one account cancelling most of
  what it orders), ``account_farm`` (batches of fresh unverified accounts on shared devices
  mixing coupon and hoarding behaviour).
* **Labels as review outcomes**: about a third of abusers are labelled, each decided 5-25
  days after its abuse started (ring-mates often in the same takedown); some honest
  look-alikes are reviewed and cleared; about 3% of verdicts are wrong in each direction and
  some of those are corrected later. A confirmed abuser is banned: it places no order after
  its label.

Everything after the end of the market is cut off exactly as a snapshot taken then would
show it (later states unset, later attempts absent). Deterministic for a seed. Every array
is generated vectorised, so a million accounts take minutes (see docs/benchmarks.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from contract.tables import polars_schema
from contract.values import CANCEL_INITIATORS
from pipeline.progress import track

log = logging.getLogger("buyer_abuse")

MISSING = np.iinfo(np.int64).min  # a time that was not reached
DAY = 86_400
HOUR = 3_600
MINUTE = 60

HONEST = ("regular", "heavy_buyer", "fickle", "household", "card_trouble", "flash_fan", "discount_hunter")
ABUSE = ("hoarding_ring", "coupon_ring", "seller_sabotage", "card_testing", "serial_canceller", "account_farm")
PATTERNS = HONEST + ABUSE
P = {name: code for code, name in enumerate(PATTERNS)}

# Share of all accounts per pattern, and (min, max) group size: households and rings are
# groups of accounts run by one household or one actor. `regular` takes the rest.
SHARES = {
    "heavy_buyer": (0.04, 1, 1),
    "fickle": (0.05, 1, 1),
    "household": (0.06, 2, 4),
    "card_trouble": (0.03, 1, 1),
    "flash_fan": (0.04, 1, 1),
    "discount_hunter": (0.03, 1, 1),
    "hoarding_ring": (0.009, 6, 20),
    "coupon_ring": (0.006, 3, 8),
    "seller_sabotage": (0.004, 1, 4),
    "card_testing": (0.004, 1, 5),
    "serial_canceller": (0.005, 1, 1),
    "account_farm": (0.007, 10, 30),
}

# Behaviour of one order, by the behaviour row it is placed under (a pattern, or `regular`
# for an abuser's ordinary cover orders). Columns: per-attempt payment failure probability,
# attempts before giving up, probability the order is never paid, share of unpaid orders the
# buyer cancels (the rest time out), buyer cancel after payment before shipment, share of
# buyer cancels that come within minutes, buyer cancel after shipment, platform risk cancel,
# probability the order is under a running promotion, discount share of list price (lo, hi).
BEHAVIOUR_COLUMNS = (
    "p_fail",
    "tries",
    "p_unpaid",
    "p_unpaid_buyer",
    "p_cancel_paid",
    "p_fast",
    "p_cancel_shipped",
    "p_platform",
    "p_promo",
    "disc_lo",
    "disc_hi",
)
BEHAVIOUR = {
    "regular": (0.04, 3, 0.03, 0.5, 0.05, 0.30, 0.010, 0.003, 0.35, 0.05, 0.25),
    "heavy_buyer": (0.05, 3, 0.06, 0.5, 0.22, 0.40, 0.030, 0.004, 0.40, 0.05, 0.30),
    "fickle": (0.05, 3, 0.12, 0.6, 0.40, 0.50, 0.060, 0.003, 0.35, 0.05, 0.25),
    "household": (0.04, 3, 0.03, 0.5, 0.06, 0.30, 0.010, 0.003, 0.35, 0.05, 0.25),
    "card_trouble": (0.45, 4, 0.06, 0.3, 0.06, 0.30, 0.010, 0.006, 0.35, 0.05, 0.25),
    "flash_fan": (0.05, 3, 0.06, 0.5, 0.09, 0.40, 0.010, 0.003, 0.60, 0.10, 0.40),
    "discount_hunter": (0.04, 3, 0.05, 0.5, 0.12, 0.40, 0.020, 0.004, 0.90, 0.15, 0.50),
    "hoarding_ring": (0.10, 2, 0.55, 0.3, 0.60, 0.80, 0.030, 0.020, 0.60, 0.10, 0.40),
    "coupon_ring": (0.06, 3, 0.05, 0.5, 0.50, 0.45, 0.150, 0.020, 0.95, 0.30, 0.60),
    "seller_sabotage": (0.04, 3, 0.03, 0.5, 0.10, 0.50, 0.650, 0.010, 0.30, 0.05, 0.25),
    "card_testing": (0.85, 8, 0.10, 0.3, 0.40, 0.90, 0.000, 0.030, 0.10, 0.05, 0.20),
    "serial_canceller": (0.05, 3, 0.15, 0.7, 0.50, 0.75, 0.100, 0.010, 0.40, 0.05, 0.30),
    "account_farm": (0.08, 3, 0.30, 0.4, 0.45, 0.60, 0.050, 0.020, 0.80, 0.20, 0.50),
}

# Ordinary (non flash-sale) orders per day per account: lognormal median by pattern.
ORDER_RATE = {
    "regular": 0.08,
    "heavy_buyer": 1.4,
    "fickle": 0.15,
    "household": 0.08,
    "card_trouble": 0.10,
    "flash_fan": 0.10,
    "discount_hunter": 0.20,
    "hoarding_ring": 0.06,
    "coupon_ring": 0.45,
    "seller_sabotage": 0.35,
    "card_testing": 0.8,
    "serial_canceller": 0.4,
    "account_farm": 0.25,
}

# Buyer profile countries (weight, customs-hold risk on shipments into it).
COUNTRIES = {
    "US": (0.20, 0.005),
    "GB": (0.08, 0.01),
    "DE": (0.08, 0.01),
    "FR": (0.07, 0.01),
    "BR": (0.12, 0.07),
    "MX": (0.08, 0.03),
    "IN": (0.10, 0.06),
    "ID": (0.07, 0.03),
    "PH": (0.05, 0.03),
    "NG": (0.04, 0.09),
    "SA": (0.05, 0.02),
    "AU": (0.06, 0.01),
}
REGIONS_PER_COUNTRY = 10
REMOTE_REGIONS = (8, 9)  # region codes -09 and -10 of each country are remote
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "mail.ru", "qq.com", "proton.me")
DISPOSABLE_DOMAINS = ("tempmail.dev", "throwaway.email", "mailnull.net")
FAILURE_CODES = ("insufficient_funds", "card_declined", "risk_declined", "timeout", "invalid_card")
HONEST_FAILURES = (0.42, 0.33, 0.12, 0.13, 0.0)
TESTING_FAILURES = (0.10, 0.50, 0.25, 0.0, 0.15)


@dataclass(frozen=True)
class MarketConfig:
    """What to simulate: `accounts` buyers over `days` days from `start` (UTC midnight)."""

    accounts: int = 5000
    days: int = 60
    seed: int = 1
    start: date = date(2026, 1, 1)

    @property
    def start_us(self) -> int:
        return int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp()) * 1_000_000


@dataclass
class _Accounts:
    """One entry per account, indexed 0..n-1 (ids are shuffled later)."""

    pattern: np.ndarray  # int8 code into PATTERNS
    group: np.ndarray  # int32 household / ring number, -1 alone
    created: np.ndarray  # int64 seconds from market start (negative: before)
    country: np.ndarray  # int8 index into COUNTRIES
    region: np.ndarray  # int8 region 0..9 within the country
    rate: np.ndarray  # float ordinary orders per day
    ban: np.ndarray  # int64 seconds: no order at or after this (a confirmed abuse label)
    fickleness: np.ndarray  # multiplies the account's cancel and non-payment propensities
    card_failure: np.ndarray  # per-attempt failure probability of the account's cards

    @property
    def n(self) -> int:
        return len(self.pattern)

    @property
    def is_abuser(self) -> np.ndarray:
        return self.pattern >= len(HONEST)


@dataclass
class _Pools:
    """Per-account entity lists in CSR form: entity ids of account a are ids[ptr[a]:ptr[a+1]]."""

    ptr: np.ndarray
    ids: np.ndarray

    def pick(self, rng: np.random.Generator, accounts: np.ndarray) -> np.ndarray:
        """One entity per row, uniformly from each row's account's list; -1 where it is empty."""
        start, size = self.ptr[accounts], self.ptr[accounts + 1] - self.ptr[accounts]
        offset = (rng.random(len(accounts)) * size).astype(np.int64)
        return np.where(size > 0, self.ids[np.minimum(start + offset, len(self.ids) - 1)], -1)

    def first(self, accounts: np.ndarray) -> np.ndarray:
        size = self.ptr[accounts + 1] - self.ptr[accounts]
        return np.where(size > 0, self.ids[np.minimum(self.ptr[accounts], len(self.ids) - 1)], -1)


class _PoolBuilder:
    """Collects (account, entity) pairs; new entities are numbered as they are made."""

    def __init__(self) -> None:
        self.accounts: list[np.ndarray] = []
        self.entities: list[np.ndarray] = []
        self.count = 0

    def new(self, size: int) -> np.ndarray:
        ids = np.arange(self.count, self.count + size, dtype=np.int64)
        self.count += size
        return ids

    def add(self, accounts: np.ndarray, entities: np.ndarray) -> None:
        self.accounts.append(np.asarray(accounts, dtype=np.int64))
        self.entities.append(np.asarray(entities, dtype=np.int64))

    def personal(self, accounts: np.ndarray, counts: np.ndarray) -> None:
        """Give each account `counts[i]` entities of its own."""
        counts = np.asarray(counts, dtype=np.int64)
        self.add(np.repeat(accounts, counts), self.new(int(counts.sum())))

    def build(self, n_accounts: int) -> _Pools:
        acc = np.concatenate(self.accounts) if self.accounts else np.zeros(0, np.int64)
        ent = np.concatenate(self.entities) if self.entities else np.zeros(0, np.int64)
        order = np.argsort(acc, kind="stable")
        ptr = np.zeros(n_accounts + 1, dtype=np.int64)
        np.cumsum(np.bincount(acc, minlength=n_accounts), out=ptr[1:])
        return _Pools(ptr, ent[order])


def _group_members(accounts: _Accounts, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """Accounts of `pattern` sorted by group, and the position of each group's first member."""
    members = np.flatnonzero(accounts.pattern == P[pattern])
    members = members[np.argsort(accounts.group[members], kind="stable")]
    firsts = np.flatnonzero(np.r_[True, np.diff(accounts.group[members]) != 0]) if len(members) else members
    return members, firsts


def _per_group(rng: np.random.Generator, accounts: _Accounts, pattern: str, lo: int, hi: int):
    """For each group of `pattern`: members, group index of each member, and a count in [lo, hi]."""
    members, firsts = _group_members(accounts, pattern)
    group_of = np.cumsum(np.isin(np.arange(len(members)), firsts)) - 1
    counts = rng.integers(lo, hi + 1, size=len(firsts))
    return members, group_of, counts


def _shared(
    rng: np.random.Generator,
    builder: _PoolBuilder,
    accounts: _Accounts,
    pattern: str,
    per_group: tuple[int, int],
    per_member: int,
    share: float = 1.0,
) -> None:
    """Give each group of `pattern` a set of shared entities; each member gets `per_member` of them."""
    members, group_of, counts = _per_group(rng, accounts, pattern, *per_group)
    if not len(members):
        return
    # A fraction `share` of the groups share at all.
    sharing = rng.random(len(counts)) < share
    counts = np.where(sharing, counts, 0)
    if not counts.sum():
        return
    base = builder.new(int(counts.sum()))
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    for _ in range(per_member):
        pick = (rng.random(len(members)) * counts[group_of]).astype(np.int64)
        has = counts[group_of] > 0
        builder.add(members[has], base[np.minimum(offsets[group_of] + pick, len(base) - 1)][has])


def _leader(group: np.ndarray) -> np.ndarray:
    """For each account, the first account of its group (itself when alone)."""
    leader = np.arange(len(group))
    grouped = np.flatnonzero(group >= 0)
    first = np.full(int(group.max()) + 1 if len(grouped) else 0, len(group))
    np.minimum.at(first, group[grouped], grouped)
    leader[grouped] = first[group[grouped]]
    return leader


def _population(rng: np.random.Generator, cfg: MarketConfig) -> _Accounts:
    n, end = cfg.accounts, cfg.days * DAY
    pattern = np.full(n, P["regular"], dtype=np.int8)
    group = np.full(n, -1, dtype=np.int32)
    next_slot, next_group = 0, 0
    for name, (share, lo, hi) in SHARES.items():
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
    country, region = country[_leader(group)], region[_leader(group)]

    medians = np.array([ORDER_RATE[p] for p in PATTERNS])[pattern]
    rate = medians * rng.lognormal(0.0, 0.6, n)
    ban = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    # Buyers of one kind still differ: some cancel twice as often as their peers, some half.
    fickleness = rng.lognormal(0.0, 0.5, n)
    base_failure = np.array([BEHAVIOUR[p][0] for p in PATTERNS])[pattern]
    card_failure = np.where(pattern == P["card_trouble"], rng.uniform(0.3, 0.8, n), base_failure)
    return _Accounts(pattern, group, created.astype(np.int64), country, region, rate, ban, fickleness, card_failure)


def _entity_pools(rng: np.random.Generator, acc: _Accounts) -> dict[str, _Pools]:
    """Devices, shipping addresses, payment instruments and network prefixes per account."""
    n, all_acc = acc.n, np.arange(acc.n)
    is_p = {name: acc.pattern == P[name] for name in PATTERNS}

    dev = _PoolBuilder()
    own = 1 + (rng.random(n) < 0.35)
    own = np.where(is_p["coupon_ring"], rng.integers(4, 9, n), own)  # rotating devices
    own = np.where(is_p["hoarding_ring"] | is_p["account_farm"], (rng.random(n) < 0.3).astype(int), own)
    dev.personal(all_acc, own)
    _shared(rng, dev, acc, "household", (1, 1), 1, share=0.75)
    _shared(rng, dev, acc, "hoarding_ring", (2, 5), 2)
    _shared(rng, dev, acc, "account_farm", (2, 4), 2)
    _shared(rng, dev, acc, "coupon_ring", (1, 1), 1, share=0.5)
    _shared(rng, dev, acc, "seller_sabotage", (1, 1), 1, share=0.7)
    _shared(rng, dev, acc, "card_testing", (1, 2), 1)
    # Shared public devices (internet cafes, shop kiosks): a few, each used by many buyers.
    cafe_users = all_acc[(acc.pattern < len(HONEST)) & (rng.random(n) < 0.004)]
    cafes = dev.new(max(1, n // 40_000))
    dev.add(cafe_users, rng.choice(cafes, len(cafe_users)))

    addr = _PoolBuilder()
    own = np.where(is_p["heavy_buyer"], rng.integers(2, 5, n), 1)
    own = np.where(is_p["household"] & (rng.random(n) < 0.8), 0, own)
    own = np.where(is_p["hoarding_ring"] | is_p["account_farm"], 0, own)
    addr.personal(all_acc, own)
    _shared(rng, addr, acc, "household", (1, 1), 1)
    _shared(rng, addr, acc, "hoarding_ring", (1, 3), 1)
    _shared(rng, addr, acc, "account_farm", (2, 4), 1)
    _shared(rng, addr, acc, "coupon_ring", (1, 1), 1, share=0.3)

    card = _PoolBuilder()
    own = 1 + (rng.random(n) < 0.3)
    own = np.where(is_p["heavy_buyer"], rng.integers(2, 5, n), own)
    own = np.where(is_p["card_trouble"], rng.integers(2, 4, n), own)
    own = np.where(is_p["card_testing"], rng.integers(10, 40, n), own)
    own = np.where(is_p["coupon_ring"], (rng.random(n) < 0.3).astype(int), own)
    card.personal(all_acc, own)
    _shared(rng, card, acc, "household", (1, 1), 1, share=0.3)
    _shared(rng, card, acc, "coupon_ring", (2, 3), 2)
    _shared(rng, card, acc, "card_testing", (5, 15), 6)
    _shared(rng, card, acc, "account_farm", (1, 3), 1, share=0.5)

    # Network prefixes: a home prefix shared with neighbours, and for half the buyers one of
    # three mobile carrier prefixes per country (carrier-grade NAT: huge sharing).
    net = _PoolBuilder()
    residential = max(1, n // 25)
    home = acc.country.astype(np.int64) * residential + rng.integers(0, residential, n)
    net.add(all_acc, net.new(len(COUNTRIES) * residential)[home])
    carriers = net.new(len(COUNTRIES) * 3)
    mobile = rng.random(n) < 0.5
    net.add(all_acc[mobile], carriers[acc.country[mobile] * 3 + rng.integers(0, 3, int(mobile.sum()))])
    _shared(rng, net, acc, "hoarding_ring", (1, 2), 1)
    _shared(rng, net, acc, "account_farm", (1, 2), 1)
    _shared(rng, net, acc, "card_testing", (1, 1), 1)
    rotating = is_p["coupon_ring"]
    net.personal(all_acc[rotating], np.full(int(rotating.sum()), 3))
    return {"device": dev.build(n), "address": addr.build(n), "card": card.build(n), "net": net.build(n)}


@dataclass
class _Campaigns:
    promo_start: np.ndarray  # seconds, sorted
    promo_end: np.ndarray
    flash_start: np.ndarray  # seconds, sorted
    flash_hours: np.ndarray
    flash_items: np.ndarray  # (n_flash, 12) global item ids on sale
    flash_stockout: np.ndarray  # probability a paid flash order is cancelled out of stock

    @property
    def n_promo(self) -> int:
        return len(self.promo_start)


ITEMS_PER_SELLER = 30


def _sellers(cfg: MarketConfig) -> int:
    return max(30, cfg.accounts // 40)


def _campaigns(rng: np.random.Generator, cfg: MarketConfig, seller_p: np.ndarray) -> _Campaigns:
    end = cfg.days * DAY
    promo_start = np.cumsum(rng.integers(3 * DAY, 7 * DAY, cfg.days // 3 + 1))
    promo_start = promo_start[promo_start < end]
    promo_end = promo_start + rng.integers(2 * DAY, 3 * DAY, len(promo_start))
    flash_start = np.cumsum(rng.integers(DAY, 2 * DAY, cfg.days))
    flash_start = flash_start[flash_start < end - 3 * HOUR]
    flash_start = flash_start - flash_start % DAY + rng.integers(11 * HOUR, 20 * HOUR, len(flash_start))
    n_flash = len(flash_start)
    sellers = rng.choice(len(seller_p), size=(n_flash, 12), p=seller_p)
    items = sellers * ITEMS_PER_SELLER + rng.integers(0, 5, (n_flash, 12))
    return _Campaigns(
        promo_start, promo_end, flash_start, rng.integers(1, 3, n_flash), items, rng.uniform(0.25, 0.5, n_flash)
    )


@dataclass
class _Plan:
    """Orders before their outcome: who, when, where, under which behaviour row."""

    account: np.ndarray
    placed: np.ndarray
    item: np.ndarray  # global item id (seller = item // ITEMS_PER_SELLER)
    campaign: np.ndarray  # -1 none, 0..n_promo-1 promotions, n_promo.. flash sales
    behaviour: np.ndarray  # int8 code into PATTERNS, the BEHAVIOUR row

    @staticmethod
    def concat(plans: list[_Plan]) -> _Plan:
        return _Plan(*(np.concatenate([getattr(p, f) for p in plans]) for f in _Plan.__dataclass_fields__))


def _active_window(acc: _Accounts, end: int) -> tuple[np.ndarray, np.ndarray]:
    start = np.maximum(acc.created, 0)
    stop = np.minimum(acc.ban, end)
    return start, np.maximum(stop, start)


def _ordinary_orders(rng, cfg, acc: _Accounts, seller_p: np.ndarray, camp: _Campaigns) -> _Plan:
    """Every account's everyday orders: Poisson counts, uniform times, popular sellers."""
    end = cfg.days * DAY
    start, stop = _active_window(acc, end)
    counts = rng.poisson(acc.rate * (stop - start) / DAY)
    account = np.repeat(np.arange(acc.n), counts)
    placed = start[account] + (rng.random(len(account)) * (stop - start)[account]).astype(np.int64)
    seller = rng.choice(len(seller_p), size=len(account), p=seller_p)
    item = seller * ITEMS_PER_SELLER + np.minimum(rng.zipf(1.6, len(account)) - 1, ITEMS_PER_SELLER - 1)
    pattern = acc.pattern[account]

    # Sabotage: most orders go to one of the group's target competitors, a few items each.
    sab = pattern == P["seller_sabotage"]
    targets = rng.choice(len(seller_p), size=(acc.n, 2), p=seller_p)[_leader(acc.group)]
    to_target = rng.random(int(sab.sum())) < 0.85
    target_items = targets[account[sab], rng.integers(0, 2, int(sab.sum()))] * ITEMS_PER_SELLER
    item[sab] = np.where(to_target, target_items + rng.integers(0, 3, int(sab.sum())), item[sab])
    # Serial cancellers re-order the same handful of items.
    ser = pattern == P["serial_canceller"]
    favourites = rng.integers(0, len(seller_p) * ITEMS_PER_SELLER, size=(acc.n, 4))
    item[ser] = np.where(
        rng.random(int(ser.sum())) < 0.6, favourites[account[ser], rng.integers(0, 4, int(ser.sum()))], item[ser]
    )

    # Hoarding rings' own ordinary orders are cover: they behave like a regular buyer.
    behaviour = np.where(pattern == P["hoarding_ring"], P["regular"], pattern).astype(np.int8)
    # Orders placed while a promotion runs are often placed under it.
    running = np.searchsorted(camp.promo_start, placed, side="right") - 1
    in_promo = (running >= 0) & (placed < camp.promo_end[np.maximum(running, 0)])
    p_promo = np.array([BEHAVIOUR[p][8] for p in PATTERNS])[behaviour]
    campaign = np.where(in_promo & (rng.random(len(account)) < p_promo), running, -1)
    return _Plan(account, placed, item, campaign, behaviour)


def _flash_orders(rng, cfg, acc: _Accounts, camp: _Campaigns) -> _Plan:
    """Flash-sale orders: fans and some regulars join a few sales, hoarders join most."""
    start, stop = _active_window(acc, cfg.days * DAY)
    join = np.array([0.01] * len(PATTERNS))
    join[P["flash_fan"]], join[P["discount_hunter"]], join[P["heavy_buyer"]] = 0.30, 0.08, 0.10
    join[P["hoarding_ring"]], join[P["account_farm"]] = 0.55, 0.20
    per_join = np.ones(len(PATTERNS))
    per_join[P["flash_fan"]], per_join[P["heavy_buyer"]] = 1.5, 2.0
    per_join[P["hoarding_ring"]], per_join[P["account_farm"]] = 4.0, 2.0
    plans = []
    for sale, begin in enumerate(camp.flash_start):
        alive = np.flatnonzero((start <= begin) & (stop > begin))
        p = join[acc.pattern[alive]]
        joined = alive[rng.random(len(alive)) < p]
        counts = 1 + rng.poisson(per_join[acc.pattern[joined]] - 1)
        account = np.repeat(joined, counts)
        hoarder = np.isin(acc.pattern[account], [P["hoarding_ring"], P["account_farm"]])
        # Hoarders fire within the first minutes; honest buyers trickle in.
        delay = np.where(hoarder, rng.exponential(90, len(account)), rng.exponential(25 * MINUTE, len(account)))
        placed = begin + np.minimum(delay, camp.flash_hours[sale] * HOUR - 1).astype(np.int64)
        keep = placed < stop[account]
        item = camp.flash_items[sale, rng.integers(0, camp.flash_items.shape[1], len(account))]
        plans.append(
            _Plan(
                account[keep],
                placed[keep],
                item[keep],
                np.full(int(keep.sum()), camp.n_promo + sale),
                acc.pattern[account[keep]].astype(np.int8),
            )
        )
    return _Plan.concat(plans) if plans else _Plan(*(np.zeros(0, np.int64) for _ in range(5)))


@dataclass
class _Outcome:
    paid: np.ndarray  # seconds or -1
    shipped: np.ndarray
    delivered: np.ndarray
    cancelled: np.ndarray
    initiator: np.ndarray  # int8 index into CANCEL_INITIATORS or -1
    reason: np.ndarray  # int8 index into REASONS or -1
    instrument: np.ndarray  # successful card or -1
    amount: np.ndarray
    discount: np.ndarray
    attempts: dict[str, np.ndarray]


REASONS = (
    "changed_mind",
    "found_cheaper",
    "ordered_by_mistake",
    "no_longer_needed",
    "delivery_too_slow",
    "out_of_stock",
    "customs_hold",
    "undeliverable_address",
    "no_carrier_coverage",
    "payment_failed",
    "payment_timeout",
    "risk_review",
)
R = {name: code for code, name in enumerate(REASONS)}


def _outcomes(
    rng, plan: _Plan, acc: _Accounts, pools: dict[str, _Pools], camp: _Campaigns, seller_stockout, region_failure
) -> _Outcome:
    """Payment, merchant, logistics and buyer events of every order, vectorised."""
    n = len(plan.account)
    table = np.array([BEHAVIOUR[p] for p in PATTERNS], dtype=np.float64)
    b = {name: table[plan.behaviour, i] for i, name in enumerate(BEHAVIOUR_COLUMNS)}
    a = plan.account
    for column in ("p_unpaid", "p_cancel_paid", "p_cancel_shipped"):
        b[column] = np.minimum(b[column] * acc.fickleness[a], 0.9)
    b["p_fail"] = np.where(plan.behaviour == P["card_trouble"], acc.card_failure[a], b["p_fail"])
    u = lambda: rng.random(n)
    none = np.full(n, MISSING, dtype=np.int64)
    paid, shipped, delivered, cancelled = none.copy(), none.copy(), none.copy(), none.copy()
    initiator, reason = np.full(n, -1, np.int8), np.full(n, -1, np.int8)

    def cancel(mask, at, who, why):
        cancelled[mask], initiator[mask], reason[mask] = (
            at[mask] if np.ndim(at) else at,
            CANCEL_INITIATORS.index(who),
            why,
        )

    # Amounts: list price lognormal, discounted under a campaign (and sometimes by a coupon).
    card_testing = plan.behaviour == P["card_testing"]
    price = np.where(card_testing, rng.uniform(1, 15, n), rng.lognormal(3.3, 0.9, n))
    couponed = (plan.campaign >= 0) | (u() < 0.12)
    share = np.where(couponed, rng.uniform(b["disc_lo"], b["disc_hi"]), 0.0)
    discount = np.round(price * share, 2)
    amount = np.round(price - discount, 2)

    # Payment: either never attempted/abandoned, or attempts until success or giving up.
    unpaid = u() < b["p_unpaid"]
    fails = rng.geometric(1 - b["p_fail"]) - 1  # failures before the first success
    tries = b["tries"].astype(np.int64)
    attempted_unpaid = unpaid & (u() < 0.4)  # some unpaid orders saw a declined attempt or two
    n_att = np.where(unpaid, np.where(attempted_unpaid, 1 + (u() < 0.3), 0), np.minimum(fails + 1, tries))
    success = ~unpaid & (fails < tries)
    gap = np.where(card_testing, rng.uniform(5, 25, n), rng.uniform(20, 240, n))
    first_try = plan.placed + rng.integers(10, 120, n)
    last_try = first_try + ((n_att - 1).clip(0) * gap).astype(np.int64)

    # Unpaid: the buyer cancels (often fast) or the payment window times out.
    buyer_unpaid = unpaid & (u() < b["p_unpaid_buyer"])
    fast = u() < b["p_fast"]
    quick = rng.exponential(4 * MINUTE, n).astype(np.int64) + 30
    slow = rng.lognormal(np.log(5 * HOUR), 1.0, n).astype(np.int64)
    buyer_delay = np.where(fast, quick, slow)
    cancel(
        buyer_unpaid,
        plan.placed + np.minimum(buyer_delay, 29 * MINUTE),
        "buyer",
        np.where(u() < 0.5, R["changed_mind"], R["ordered_by_mistake"])[buyer_unpaid],
    )
    timeout = unpaid & ~buyer_unpaid
    cancel(timeout, plan.placed + 30 * MINUTE + rng.integers(0, 120, n), "payment", R["payment_timeout"])
    declined = ~unpaid & ~success
    cancel(declined, last_try + rng.integers(60, 600, n), "payment", R["payment_failed"])

    paid[success] = last_try[success]
    ship_delay = rng.integers(12 * HOUR, 3 * DAY, n)
    will_ship = paid + ship_delay
    # After payment, before shipment: platform risk holds, merchant stock-outs, buyer remorse.
    item_seller = plan.item // ITEMS_PER_SELLER
    is_flash = plan.campaign >= camp.n_promo
    p_stock = np.where(
        is_flash, camp.flash_stockout[np.maximum(plan.campaign - camp.n_promo, 0)], seller_stockout[item_seller]
    )
    event = u()
    platform = success & (event < b["p_platform"])
    stockout = success & ~platform & (event < b["p_platform"] + p_stock)
    remorse = success & ~platform & ~stockout & (u() < b["p_cancel_paid"])
    cancel(platform, paid + rng.integers(10 * MINUTE, 6 * HOUR, n), "platform", R["risk_review"])
    cancel(stockout, paid + rng.integers(HOUR, 36 * HOUR, n), "seller", R["out_of_stock"])
    remorse_at = paid + np.minimum(buyer_delay, ship_delay - 60)
    remorse_reason = np.where(
        u() < 0.5, R["changed_mind"], np.where(u() < 0.6, R["found_cheaper"], R["ordered_by_mistake"])
    )
    cancel(remorse, remorse_at, "buyer", remorse_reason[remorse])

    # Shipped: logistics failures (remote regions, customs-heavy countries) or buyer refusal.
    ships = success & ~platform & ~stockout & ~remorse
    shipped[ships] = will_ship[ships]
    remote = np.isin(acc.region[a], REMOTE_REGIONS)
    customs = np.array([c for _, c in COUNTRIES.values()])[acc.country[a]]
    # Customs holds depend on the destination country; carriers' failures on the region.
    held = u() < customs
    lost = ships & (held | (u() < region_failure[acc.country[a], acc.region[a]]))
    log_reason = np.where(
        held, R["customs_hold"], np.where(remote & (u() < 0.4), R["no_carrier_coverage"], R["undeliverable_address"])
    )
    cancel(lost, shipped + rng.integers(2 * DAY, 10 * DAY, n), "logistics", log_reason[lost])
    # Remote buyers also give up on slow deliveries themselves.
    p_refuse = b["p_cancel_shipped"] + 0.10 * remote
    refused = ships & ~lost & (u() < p_refuse)
    refuse_reason = np.where(
        remote & (u() < 0.7), R["delivery_too_slow"], np.where(u() < 0.5, R["changed_mind"], R["no_longer_needed"])
    )
    cancel(refused, shipped + rng.integers(12 * HOUR, 4 * DAY, n), "buyer", refuse_reason[refused])
    arrives = ships & ~lost & ~refused
    delivered[arrives] = shipped[arrives] + rng.integers(3 * DAY, 14 * DAY, n)[arrives]

    attempts = _attempts(rng, plan, pools["card"], n_att, first_try, gap, success, card_testing)
    instrument = np.full(n, -1, dtype=np.int64)
    last = attempts["last_of_order"]
    instrument[attempts["order"][last]] = attempts["instrument"][last]
    instrument[~success] = -1
    return _Outcome(paid, shipped, delivered, cancelled, initiator, reason, instrument, amount, discount, attempts)


def _attempts(rng, plan: _Plan, cards: _Pools, n_att, first_try, gap, success, card_testing) -> dict[str, np.ndarray]:
    """Payment attempts: one row per try; the last try of a paid order is its success."""
    order = np.repeat(np.arange(len(n_att)), n_att)
    k = np.arange(len(order)) - np.repeat(np.cumsum(n_att) - n_att, n_att)  # try number within the order
    last = k == n_att[order] - 1
    at = first_try[order] + (k * gap[order]).astype(np.int64)
    account = plan.account[order]
    # Honest buyers mostly use their main card and switch after a decline; testers rotate.
    main = cards.first(account)
    other = cards.pick(rng, account)
    rotate = card_testing[order] | (k > 0) & (rng.random(len(order)) < 0.5) | (rng.random(len(order)) < 0.1)
    instrument = np.where(rotate, other, main)
    succeeded = last & success[order]
    codes = np.where(
        card_testing[order],
        rng.choice(len(FAILURE_CODES), len(order), p=TESTING_FAILURES),
        rng.choice(len(FAILURE_CODES), len(order), p=HONEST_FAILURES),
    )
    return {
        "order": order,
        "at": at,
        "instrument": instrument,
        "succeeded": succeeded,
        "code": np.where(succeeded, -1, codes),
        "last_of_order": last,
    }


def _labels(rng, cfg: MarketConfig, acc: _Accounts) -> dict[str, np.ndarray]:
    """Review outcomes: who was labelled what, when. Sets `acc.ban` for confirmed abusers."""
    end, n = cfg.days * DAY, acc.n
    abuser = acc.is_abuser
    abuse_start = np.maximum(acc.created, 0) + rng.integers(0, 5 * DAY, n)
    # Abusers: reviewed with some probability, decided 5-25 days after their abuse began.
    reviewed = abuser & (rng.random(n) < 0.25)
    decided = abuse_start + rng.integers(5 * DAY, 12 * DAY, n) + rng.exponential(20 * DAY, n).astype(np.int64)
    # Ring takedowns: when one member is decided, each ring-mate is decided with it half the time.
    grouped = abuser & (acc.group >= 0)
    first_decision = np.full(acc.group.max() + 2, np.iinfo(np.int64).max)
    np.minimum.at(first_decision, acc.group[reviewed & grouped], decided[reviewed & grouped])
    swept = grouped & ~reviewed & (first_decision[np.maximum(acc.group, 0)] < end) & (rng.random(n) < 0.4)
    # (a ring-mate registered after the takedown began is decided once its own abuse is seen)
    swept_at = np.maximum(first_decision[np.maximum(acc.group, 0)] + rng.integers(0, DAY, n), abuse_start + 5 * DAY)
    decided = np.where(swept, swept_at, decided)
    reviewed |= swept
    # Honest accounts: look-alikes are reviewed more often; all of them are cleared.
    honest_review = np.where(acc.pattern == P["regular"], 0.005, 0.06)
    reviewed |= ~abuser & (rng.random(n) < honest_review)
    honest_at = rng.integers(14 * DAY, max(end, 15 * DAY), n)
    decided = np.where(abuser, decided, np.maximum(honest_at, np.maximum(acc.created, 0) + 7 * DAY))
    # A few verdicts are wrong in both directions; some of those are corrected later.
    wrong = reviewed & (rng.random(n) < 0.03)
    verdict_abuse = abuser ^ wrong
    in_market = reviewed & (decided < end)
    who = np.flatnonzero(in_market)
    label_abuse = verdict_abuse[who]
    at = decided[who]
    fix = wrong[who] & (rng.random(len(who)) < 0.3)
    fix_at = at[fix] + rng.integers(10 * DAY, 20 * DAY, int(fix.sum()))
    fix_keep = fix_at < end
    accounts = np.r_[who, who[fix][fix_keep]]
    labels = np.r_[label_abuse, ~label_abuse[fix][fix_keep]]
    decided_at = np.r_[at, fix_at[fix_keep]]
    chargeback = np.isin(acc.pattern[accounts], [P["card_testing"], P["coupon_ring"]]) & (
        rng.random(len(accounts)) < 0.5
    )
    source = np.where(chargeback & labels, 1, np.where(rng.random(len(accounts)) < 0.1, 2, 0))
    # A confirmed abuser is banned: nothing after the (first) abuse verdict.
    banned = accounts[labels]
    np.minimum.at(acc.ban, banned, decided_at[labels])
    return {"account": accounts, "abuse": labels, "decided": decided_at, "source": source}


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


ORDER_CHUNK = 1_000_000  # orders whose outcomes and rows are made at once: bounds the memory


def market_tables(cfg: MarketConfig) -> Iterator[tuple[str, pl.DataFrame]]:
    """(table name, rows) pieces of the market as of its end: the account tables whole, then
    orders and payment attempts in chunks of ORDER_CHUNK orders (tables in contract types)."""
    rng = np.random.default_rng(cfg.seed)
    end, start_us = cfg.days * DAY, cfg.start_us
    acc = _population(rng, cfg)
    pools = _entity_pools(rng, acc)
    label = _labels(rng, cfg, acc)
    n_sellers = _sellers(cfg)
    seller_p = 1.0 / np.arange(1, n_sellers + 1) ** 1.1
    seller_p /= seller_p.sum()
    seller_stockout = np.clip(rng.lognormal(np.log(0.015), 0.8, n_sellers), 0, 0.3)
    # Carriers fail rarely in most regions and often in remote ones, some far worse than others.
    region_failure = rng.uniform(0.005, 0.03, (len(COUNTRIES), REGIONS_PER_COUNTRY))
    region_failure[:, REMOTE_REGIONS] = rng.uniform(0.15, 0.6, (len(COUNTRIES), len(REMOTE_REGIONS)))
    camp = _campaigns(rng, cfg, seller_p)
    # Account ids are a random permutation, so an id says nothing about the account.
    account_ids = _ids("u", rng.permutation(acc.n) + 100_000)
    yield from _account_tables(rng, acc, pools, label, end, start_us, account_ids)

    log.info("simulating orders for %d accounts over %d days", acc.n, cfg.days)
    plan = _Plan.concat([_ordinary_orders(rng, cfg, acc, seller_p, camp), _flash_orders(rng, cfg, acc, camp)])
    # The market's own ids follow placement time, as a warehouse export's would.
    order = np.argsort(plan.placed, kind="stable")
    plan = _Plan(*(getattr(plan, f)[order] for f in _Plan.__dataclass_fields__))
    campaign_names = tuple(f"promo{i}" for i in range(camp.n_promo)) + tuple(
        f"flash{i}" for i in range(len(camp.flash_start))
    )
    attempts_made = 0
    for first in track(
        range(0, len(plan.account), ORDER_CHUNK), "order chunks", total=-(-len(plan.account) // ORDER_CHUNK)
    ):
        chunk = _Plan(*(getattr(plan, f)[first : first + ORDER_CHUNK] for f in _Plan.__dataclass_fields__))
        out = _outcomes(rng, chunk, acc, pools, camp, seller_stockout, region_failure)
        orders = _orders(rng, acc, pools, chunk, out, first, end, start_us, account_ids, campaign_names)
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
    acc: _Accounts,
    pools,
    plan: _Plan,
    out: _Outcome,
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


def _payment_attempts(out: _Outcome, orders: pl.DataFrame, attempts_made: int, end: int, start_us: int) -> pl.DataFrame:
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


def _account_tables(rng, acc: _Accounts, pools, label, end: int, start_us: int, account_ids: pl.Series):
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
                    "account_id": account_ids.gather(label["account"]),
                    "label": np.where(label["abuse"], "abuse", "legit"),
                    "decided_at": _times(start_us, label["decided"]),
                    "source": pl.Series(["review", "chargeback", "policy"]).gather(label["source"]),
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
            }
        ),
    )


def simulate_market(cfg: MarketConfig) -> dict[str, pl.DataFrame]:
    """The snapshot tables (contract section 1) and `truth`, as of the end of the market."""
    pieces: dict[str, list[pl.DataFrame]] = {}
    for name, frame in market_tables(cfg):
        pieces.setdefault(name, []).append(frame)
    return {name: pl.concat(frames) for name, frames in pieces.items()}


def _sessions(rng, acc: _Accounts, pools, end: int, start_us: int, account_ids: pl.Series) -> pl.DataFrame:
    """Logins: a few per account over its active life, from its own devices and networks."""
    start, stop = _active_window(acc, end)
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


def write_market(cfg: MarketConfig, out: Path) -> dict[str, int]:
    """Simulate and write every table as OUT/NAME.parquet plus truth.parquet, chunk by chunk;
    returns row counts. Files are written under temporary names and renamed when complete."""
    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    counts: dict[str, int] = {}
    try:
        for name, frame in market_tables(cfg):
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
    (out / "market.json").write_text(
        json.dumps({"config": {**cfg.__dict__, "start": cfg.start.isoformat()}, "rows": counts}, indent=2)
    )
    log.info("wrote %s", ", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    return counts
