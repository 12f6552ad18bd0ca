"""Order plans: the market's sellers and campaigns, and every order before its outcome (who
ordered what, when, under which campaign and which behaviour row): everyday orders and
flash-sale orders."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from simulator.params import BEHAVIOUR_COLUMNS, DAY, HOUR, ITEMS_PER_SELLER, MINUTE, PATTERNS, MarketConfig, P, Patterns
from simulator.population import Accounts, active_window, leader


@dataclass(frozen=True)
class Campaigns:
    promo_start: np.ndarray  # seconds, sorted
    promo_end: np.ndarray
    flash_start: np.ndarray  # seconds, sorted
    flash_hours: np.ndarray
    flash_items: np.ndarray  # (n_flash, 12) global item ids on sale
    flash_stockout: np.ndarray  # probability a paid flash order is cancelled out of stock

    @property
    def n_promo(self) -> int:
        return len(self.promo_start)

    @property
    def names(self) -> tuple[str, ...]:
        """campaign_id of each campaign number: promotions first, then flash sales."""
        return tuple(f"promo{i}" for i in range(self.n_promo)) + tuple(
            f"flash{i}" for i in range(len(self.flash_start))
        )


def sellers(cfg: MarketConfig) -> int:
    """How many sellers the market has."""
    return max(30, cfg.accounts // 40)


def campaigns(rng: np.random.Generator, cfg: MarketConfig, seller_p: np.ndarray) -> Campaigns:
    """Promotions every 3-7 days lasting 2-3 days, and a flash sale every day or two."""
    end = cfg.days * DAY
    promo_start = np.cumsum(rng.integers(3 * DAY, 7 * DAY, cfg.days // 3 + 1))
    promo_start = promo_start[promo_start < end]
    promo_end = promo_start + rng.integers(2 * DAY, 3 * DAY, len(promo_start))
    flash_start = np.cumsum(rng.integers(DAY, 2 * DAY, cfg.days))
    flash_start = flash_start[flash_start < end - 3 * HOUR]
    flash_start = flash_start - flash_start % DAY + rng.integers(11 * HOUR, 20 * HOUR, len(flash_start))
    n_flash = len(flash_start)
    chosen = rng.choice(len(seller_p), size=(n_flash, 12), p=seller_p)
    items = chosen * ITEMS_PER_SELLER + rng.integers(0, 5, (n_flash, 12))
    return Campaigns(
        promo_start, promo_end, flash_start, rng.integers(1, 3, n_flash), items, rng.uniform(0.25, 0.5, n_flash)
    )


@dataclass(frozen=True)
class Plan:
    """Orders before their outcome: who, when, where, under which behaviour row."""

    account: np.ndarray
    placed: np.ndarray
    item: np.ndarray  # global item id (seller = item // ITEMS_PER_SELLER)
    campaign: np.ndarray  # -1 none, 0..n_promo-1 promotions, n_promo.. flash sales
    behaviour: np.ndarray  # int8 code into PATTERNS, the BEHAVIOUR row

    @staticmethod
    def concat(plans: list[Plan]) -> Plan:
        return Plan(*(np.concatenate([getattr(p, f.name) for p in plans]) for f in fields(Plan)))

    def __len__(self) -> int:
        return len(self.account)

    def take(self, index: np.ndarray | slice) -> Plan:
        """The orders at `index` (an index array or a slice), as a new plan."""
        return Plan(*(getattr(self, f.name)[index] for f in fields(Plan)))


def ordinary_orders(
    rng, cfg: MarketConfig, acc: Accounts, patterns: Patterns, seller_p: np.ndarray, camp: Campaigns
) -> Plan:
    """Every account's everyday orders: Poisson counts, uniform times, popular sellers."""
    end = cfg.days * DAY
    start, stop = active_window(acc, end)
    counts = rng.poisson(acc.rate * (stop - start) / DAY)
    account = np.repeat(np.arange(acc.n), counts)
    placed = start[account] + (rng.random(len(account)) * (stop - start)[account]).astype(np.int64)
    seller = rng.choice(len(seller_p), size=len(account), p=seller_p)
    item = seller * ITEMS_PER_SELLER + np.minimum(rng.zipf(1.6, len(account)) - 1, ITEMS_PER_SELLER - 1)
    pattern = acc.pattern[account]

    # Sabotage: most orders go to one of the group's target competitors, a few items each.
    sab = pattern == P["seller_sabotage"]
    targets = rng.choice(len(seller_p), size=(acc.n, 2), p=seller_p)[leader(acc.group)]
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
    p_promo = patterns.behaviour_table()[behaviour, BEHAVIOUR_COLUMNS.index("p_promo")]
    campaign = np.where(in_promo & (rng.random(len(account)) < p_promo), running, -1)
    return Plan(account, placed, item, campaign, behaviour)


def flash_orders(rng, cfg: MarketConfig, acc: Accounts, patterns: Patterns, camp: Campaigns) -> Plan:
    """Flash-sale orders: fans and some regulars join a few sales, hoarders join most."""
    start, stop = active_window(acc, cfg.days * DAY)
    join = np.array([patterns.flash[p][0] for p in PATTERNS])
    per_join = np.array([patterns.flash[p][1] for p in PATTERNS])
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
            Plan(
                account[keep],
                placed[keep],
                item[keep],
                np.full(int(keep.sum()), camp.n_promo + sale),
                acc.pattern[account[keep]].astype(np.int8),
            )
        )
    return Plan.concat(plans) if plans else Plan(*(np.zeros(0, np.int64) for _ in range(5)))


def order_plan(
    rng, cfg: MarketConfig, acc: Accounts, patterns: Patterns, seller_p: np.ndarray, camp: Campaigns
) -> Plan:
    """Every order of the market, ordinary and flash, sorted by placement time: the market's
    own order ids follow placement time, as a warehouse export's would."""
    ordinary = ordinary_orders(rng, cfg, acc, patterns, seller_p, camp)
    plan = Plan.concat([ordinary, flash_orders(rng, cfg, acc, patterns, camp)])
    return plan.take(np.argsort(plan.placed, kind="stable"))
