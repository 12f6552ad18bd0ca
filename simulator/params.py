"""What the simulated market is made of: the patterns of buyers, their shares and group sizes,
the behaviour of one order under each pattern, places and failure codes, and `MarketConfig`.

Every number that shapes the market is defined here once; the other modules only read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime

import numpy as np

MISSING = np.iinfo(np.int64).min  # a time that was not reached
NEVER = np.iinfo(np.int64).max  # a ban that never comes
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

ITEMS_PER_SELLER = 30

# Flash sales, per pattern: (share of the sales it is active for that it joins, mean orders per
# sale joined). Fans and hoarders join most; everyone else now and then, one order each.
FLASH = {
    "regular": (0.01, 1.0),
    "heavy_buyer": (0.10, 2.0),
    "fickle": (0.01, 1.0),
    "household": (0.01, 1.0),
    "card_trouble": (0.01, 1.0),
    "flash_fan": (0.30, 1.5),
    "discount_hunter": (0.08, 1.0),
    "hoarding_ring": (0.55, 4.0),
    "coupon_ring": (0.01, 1.0),
    "seller_sabotage": (0.01, 1.0),
    "card_testing": (0.01, 1.0),
    "serial_canceller": (0.01, 1.0),
    "account_farm": (0.20, 2.0),
}

# Entities of its own, per pool and pattern, where a pattern has more than the ordinary
# one or two: (min, max) per account.
OWN_ENTITIES = {
    "device": {"coupon_ring": (4, 8)},  # rotating devices
    "address": {"heavy_buyer": (2, 4)},
    "card": {"heavy_buyer": (2, 4), "card_trouble": (2, 3), "card_testing": (10, 39)},
}

# Entities shared inside a group (household or ring), per pool, in the order they are made:
# (pattern, (min, max) shared entities per group, entities each member uses, share of the
# groups that share at all).
SHARED_ENTITIES = {
    "device": (
        ("household", (1, 1), 1, 0.75),
        ("hoarding_ring", (2, 5), 2, 1.0),
        ("account_farm", (2, 4), 2, 1.0),
        ("coupon_ring", (1, 1), 1, 0.5),
        ("seller_sabotage", (1, 1), 1, 0.7),
        ("card_testing", (1, 2), 1, 1.0),
    ),
    "address": (
        ("household", (1, 1), 1, 1.0),
        ("hoarding_ring", (1, 3), 1, 1.0),
        ("account_farm", (2, 4), 1, 1.0),
        ("coupon_ring", (1, 1), 1, 0.3),
    ),
    "card": (
        ("household", (1, 1), 1, 0.3),
        ("coupon_ring", (2, 3), 2, 1.0),
        ("card_testing", (5, 15), 6, 1.0),
        ("account_farm", (1, 3), 1, 0.5),
    ),
    "net": (
        ("hoarding_ring", (1, 2), 1, 1.0),
        ("account_farm", (1, 2), 1, 1.0),
        ("card_testing", (1, 1), 1, 1.0),
    ),
}

# Per-attempt failure probability of a card-trouble buyer's cards: uniform in this range.
CARD_TROUBLE_FAILURE = (0.3, 0.8)


# An abuser's abuse begins within this many days of its first active moment (its creation, or
# the market start for an older account): the moment label delays count from.
ABUSE_ONSET_DAYS = 5

SOURCES = ("review", "chargeback", "policy")  # labels.source, by code


@dataclass(frozen=True)
class Patterns:
    """Every per-pattern number of a market, keyed by pattern name like the tables above: the
    tables themselves (DEFAULT_PATTERNS), or a seeded draw around them (simulator.variation)."""

    shares: Mapping[str, tuple[float, int, int]]  # SHARES
    behaviour: Mapping[str, tuple[float, ...]]  # BEHAVIOUR, columns BEHAVIOUR_COLUMNS
    order_rate: Mapping[str, float]  # ORDER_RATE
    flash: Mapping[str, tuple[float, float]]  # FLASH
    own_entities: Mapping[str, Mapping[str, tuple[int, int]]]  # OWN_ENTITIES
    shared_entities: Mapping[str, tuple[tuple[str, tuple[int, int], int, float], ...]]  # SHARED_ENTITIES
    card_trouble_failure: tuple[float, float]  # CARD_TROUBLE_FAILURE

    def behaviour_table(self) -> np.ndarray:
        """(pattern code, BEHAVIOUR_COLUMNS) float64 array of the behaviour rows."""
        return np.array([self.behaviour[p] for p in PATTERNS], dtype=np.float64)

    def as_dict(self) -> dict:
        """The parameters as JSON-ready nested dicts (what market.json records)."""
        return {
            "shares": {p: {"share": s, "group_min": lo, "group_max": hi} for p, (s, lo, hi) in self.shares.items()},
            "behaviour": {p: dict(zip(BEHAVIOUR_COLUMNS, row, strict=True)) for p, row in self.behaviour.items()},
            "order_rate": dict(self.order_rate),
            "flash": {p: {"join": j, "orders_per_sale": k} for p, (j, k) in self.flash.items()},
            "own_entities": {pool: {p: list(r) for p, r in rows.items()} for pool, rows in self.own_entities.items()},
            "shared_entities": {
                pool: [
                    {"pattern": p, "per_group": list(per_group), "per_member": m, "share": share}
                    for p, per_group, m, share in rows
                ]
                for pool, rows in self.shared_entities.items()
            },
            "card_trouble_failure": list(self.card_trouble_failure),
        }


DEFAULT_PATTERNS = Patterns(SHARES, BEHAVIOUR, ORDER_RATE, FLASH, OWN_ENTITIES, SHARED_ENTITIES, CARD_TROUBLE_FAILURE)

DELAY_TAILS = ("exponential", "lognormal")


@dataclass(frozen=True)
class LabelDelay:
    """Days from an abuser's first abuse to its label decision: at least `min_days`, plus a
    uniform jitter of up to `jitter_days`, plus a tail: exponential with mean `tail_days`, or
    lognormal with median `tail_days` and shape `sigma`. The default (5-12 days plus an
    exponential of mean 20) has a median of about 22.5 days and a long tail into months."""

    min_days: float = 5.0
    jitter_days: float = 7.0
    tail: str = "exponential"
    tail_days: float = 20.0
    sigma: float = 1.0

    def __post_init__(self) -> None:
        if self.tail not in DELAY_TAILS:
            raise ValueError(f"label delay tail must be one of {DELAY_TAILS}, not {self.tail!r}")
        if self.min_days < 0 or self.jitter_days < 0 or self.tail_days <= 0 or self.sigma <= 0:
            raise ValueError(f"label delay needs min_days, jitter_days >= 0 and tail_days, sigma > 0: {self}")

    @classmethod
    def from_median(cls, min_days: float, median_days: float, tail: str = "exponential", sigma: float = 1.0):
        """A delay of at least `min_days` days whose median is `median_days` (no jitter)."""
        if not median_days > min_days >= 0:
            raise ValueError(f"label delay needs 0 <= min < median days, not {min_days}:{median_days}")
        extra = median_days - min_days
        tail_days = extra / math.log(2) if tail == "exponential" else extra
        return cls(float(min_days), 0.0, tail, float(tail_days), float(sigma))

    def tail_cdf(self, days: np.ndarray) -> np.ndarray:
        """P(tail <= days), elementwise."""
        days = np.maximum(np.asarray(days, dtype=np.float64), 0.0)
        if self.tail == "exponential":
            return 1.0 - np.exp(-days / self.tail_days)
        with np.errstate(divide="ignore"):
            z = (np.log(days) - math.log(self.tail_days)) / (self.sigma * math.sqrt(2))
        return np.array([0.5 * (1.0 + math.erf(v)) for v in z.ravel()]).reshape(z.shape)

    def median_days(self) -> float:
        """The median delay in days (numerically, over the uniform jitter)."""
        jitter = (np.arange(200) + 0.5) / 200 * self.jitter_days  # midpoints of the jitter's range
        lo, hi = self.min_days, self.min_days + self.jitter_days + 1.0
        while self.tail_cdf(hi - self.min_days - jitter).mean() < 0.5:
            hi *= 2
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.tail_cdf(mid - self.min_days - jitter).mean() < 0.5 else (lo, mid)
        return round((lo + hi) / 2, 3)


@dataclass(frozen=True)
class LabelProcess:
    """How labels arrive. The default is the label process the simulator always had: a quarter
    of abusers reviewed, decided weeks after their abuse began, ring-mates swept along, 3% of
    verdicts wrong either way and 30% of those corrected later, and a confirmed abuser banned.

    * `delay`: from an abuser's first abuse (truth.first_abuse_at) to its decision.
    * `coverage`: the share of abusers reviewed on their own evidence (ever, were the market
      long enough; a decision after the market's end is not in it). Ring takedowns add
      ring-mates on top: `ring_takedown` is the probability that a ring-mate of a decided
      member is decided with it, within `takedown_lag_days` (never sooner than `delay.min_days`
      after its own first abuse).
    * `bans`: a first abuse label stops the account (no order or session from then on; the
      payment attempts of an order placed just before may still finish). False: the account
      carries on, as after a chargeback or a policy flag.
    * `false_abuse` / `false_legit`: the share of reviewed honest accounts labelled abuse, and
      of reviewed abusers labelled legit. `corrected` of those wrong labels are reversed by a
      newer row `correction_days` (min, max) later.
    * `regular_review` / `lookalike_review`: the share of regular honest buyers, and of honest
      look-alikes (every honest pattern but `regular`), reviewed (and, noise aside, cleared).
    * Sources: an abuse label on a pattern in `chargeback_patterns` comes from a chargeback
      with probability `chargeback_share`; any other label from a policy rule with probability
      `policy_share`, else from a review.
    """

    delay: LabelDelay = field(default_factory=LabelDelay)
    coverage: float = 0.25
    bans: bool = True
    ring_takedown: float = 0.4
    takedown_lag_days: float = 1.0
    false_abuse: float = 0.03
    false_legit: float = 0.03
    corrected: float = 0.3
    correction_days: tuple[float, float] = (10.0, 20.0)
    regular_review: float = 0.005
    lookalike_review: float = 0.06
    chargeback_patterns: tuple[str, ...] = ("card_testing", "coupon_ring")
    chargeback_share: float = 0.5
    policy_share: float = 0.1

    def __post_init__(self) -> None:
        shares = ("coverage", "ring_takedown", "false_abuse", "false_legit", "corrected", "regular_review")
        shares += ("lookalike_review", "chargeback_share", "policy_share")
        bad = [name for name in shares if not 0.0 <= getattr(self, name) <= 1.0]
        if bad:
            raise ValueError(f"label process shares must be in [0, 1]: {', '.join(bad)}")
        lo, hi = self.correction_days
        if not 0 <= lo < hi or self.takedown_lag_days < 0:
            raise ValueError("label corrections need 0 <= min < max days, and the takedown lag >= 0 days")
        unknown = set(self.chargeback_patterns) - set(PATTERNS)
        if unknown:
            raise ValueError(f"unknown chargeback patterns: {sorted(unknown)}")

    def as_dict(self) -> dict:
        """The parameters as JSON-ready dicts, with the delay's median (what market.json records)."""
        out = asdict(self)
        out["delay"]["median_days"] = self.delay.median_days()
        return out


# Named label processes (`buyer-abuse simulate --label-process NAME`), documented in
# docs/simulator.md: the quality benchmark runs a grid over them.
LABEL_PROCESSES: dict[str, LabelProcess] = {
    # The simulator's label process as it always was.
    "default": LabelProcess(),
    # Policy flags within days of the first abuse, that do not stop the account.
    "early-no-ban": LabelProcess(delay=LabelDelay.from_median(1, 4), coverage=0.4, bans=False, policy_share=0.5),
    # Reviews that come one to three months in, and ban.
    "late-ban": LabelProcess(delay=LabelDelay.from_median(20, 45, tail="lognormal", sigma=0.6), coverage=0.35),
    # Few reviews, many of them wrong in either direction, seldom corrected.
    "sparse-noisy": LabelProcess(
        coverage=0.1,
        ring_takedown=0.15,
        false_abuse=0.12,
        false_legit=0.12,
        corrected=0.1,
        regular_review=0.01,
        lookalike_review=0.1,
    ),
    # Chargebacks weeks after the abuse, for every pattern, that never stop the account; some
    # honest buyers' disputes count as abuse (friendly fraud), a few reversed much later.
    "chargeback": LabelProcess(
        delay=LabelDelay.from_median(14, 40, tail="lognormal", sigma=0.5),
        coverage=0.3,
        bans=False,
        ring_takedown=0.0,
        false_abuse=0.1,
        false_legit=0.0,
        corrected=0.2,
        correction_days=(20.0, 45.0),
        regular_review=0.003,
        lookalike_review=0.02,
        chargeback_patterns=PATTERNS,
        chargeback_share=1.0,
        policy_share=0.0,
    ),
}


def label_process(
    preset: str = "default",
    *,
    delay_days: tuple[float, float] | None = None,
    delay_tail: str | None = None,
    coverage: float | None = None,
    bans: bool | None = None,
    noise: float | None = None,
    corrected: float | None = None,
    ring_takedown: float | None = None,
) -> LabelProcess:
    """The preset named `preset` with the parts given replaced (None keeps the preset's).

    `delay_days` is (minimum, median) days; `delay_tail` its tail (with the preset's minimum and
    median when `delay_days` is not given); `noise` sets both `false_abuse` and `false_legit`."""
    if preset not in LABEL_PROCESSES:
        raise ValueError(f"unknown label process {preset!r}: one of {', '.join(LABEL_PROCESSES)}")
    process = LABEL_PROCESSES[preset]
    if delay_days is not None or delay_tail is not None:
        lo, median = delay_days or (process.delay.min_days, process.delay.median_days())
        tail = delay_tail or process.delay.tail
        process = replace(process, delay=LabelDelay.from_median(lo, median, tail, process.delay.sigma))
    changes = {"coverage": coverage, "bans": bans, "corrected": corrected, "ring_takedown": ring_takedown}
    if noise is not None:
        changes |= {"false_abuse": noise, "false_legit": noise}
    return replace(process, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class MarketConfig:
    """What to simulate: `accounts` buyers over `days` days from `start` (UTC midnight).

    `variation` (0 to 1) draws each pattern's parameters around the tables above, seeded by
    `seed` (simulator.variation; 0: the tables as they are). `label_process` says how labels
    arrive. The defaults give the market the simulator always made."""

    accounts: int = 5000
    days: int = 60
    seed: int = 1
    start: date = date(2026, 1, 1)
    variation: float = 0.0
    label_process: LabelProcess = field(default_factory=LabelProcess)

    def __post_init__(self) -> None:
        if not 0.0 <= self.variation <= 1.0:
            raise ValueError(f"variation must be in [0, 1], not {self.variation}")

    @property
    def start_us(self) -> int:
        return int(datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC).timestamp()) * 1_000_000

    @property
    def end(self) -> int:
        """The end of the market in seconds from its start: nothing at or after it is in the snapshot."""
        return self.days * DAY
