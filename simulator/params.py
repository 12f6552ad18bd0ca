"""What the simulated market is made of: the patterns of buyers, their shares and group sizes,
the behaviour of one order under each pattern, places and failure codes, and `MarketConfig`.

Every number that shapes the market is defined here once; the other modules only read it.
"""

from __future__ import annotations

from dataclasses import dataclass
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

    @property
    def end(self) -> int:
        """The end of the market in seconds from its start: nothing at or after it is in the snapshot."""
        return self.days * DAY
