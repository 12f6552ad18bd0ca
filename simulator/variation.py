"""Randomised pattern parameters: a market whose patterns are a seeded draw around the tables
of simulator.params, so that what is tuned on one market is not tuned to one set of numbers.

With variation v (0 <= v <= 1), every parameter of every pattern but `regular` (the ordinary
buyer, the reference the others differ from) is multiplied by a factor of its own, 2**u with
u uniform in [-v, v] (v = 0.5: 0.71-1.41x; v = 1: half to double), then kept in its range:

| parameter | range after the factor |
|---|---|
| share of accounts | any (the shares stay far below 1; `regular` takes the rest) |
| group size (min, max), households and rings | each rounded; min >= 2 where it was (min >= 1 otherwise), max >= min; a lone pattern stays lone |
| ordinary orders per day | any |
| behaviour-table probabilities | clipped to [0, 1]; the per-attempt failure probability to [0, 0.95] |
| payment tries before giving up | rounded, >= 1 |
| discount share of list price (lo, hi) | each clipped to [0, 0.95], lo <= hi |
| flash sales joined | clipped to [0, 1]; orders per sale joined: 1 + (mean - 1) x factor |
| own entities (min, max), shared entities per group (min, max), entities per member | rounded, >= 1, max >= min |
| share of groups that share an entity | clipped to [0, 1] |
| card-trouble failure range | each clipped to [0.05, 0.95], lo <= hi |

The draw has its own generator, seeded by the market's seed and VARIATION_STREAM, so it is
deterministic for a seed and leaves the market's own draws where they were; v = 0 draws
nothing and gives DEFAULT_PATTERNS, the market the simulator always made.
"""

from __future__ import annotations

import numpy as np

from simulator.params import BEHAVIOUR_COLUMNS, DEFAULT_PATTERNS, MarketConfig, Patterns

VARIATION_STREAM = 0x5EED  # the variation's generator: np.random.default_rng([seed, VARIATION_STREAM])
FIXED = ("regular",)  # the patterns whose parameters never vary
PROBABILITY_CAP = {"p_fail": 0.95}  # geometric retries need a failure probability below 1


def market_patterns(cfg: MarketConfig) -> Patterns:
    """The pattern parameters of the market `cfg` describes."""
    if cfg.variation == 0:
        return DEFAULT_PATTERNS
    return varied(DEFAULT_PATTERNS, cfg.variation, np.random.default_rng([cfg.seed, VARIATION_STREAM]))


def varied(patterns: Patterns, variation: float, rng: np.random.Generator) -> Patterns:
    """A new Patterns drawn around `patterns` (the ranges are in the module docstring)."""

    def factors(k: int) -> np.ndarray:
        return 2.0 ** rng.uniform(-variation, variation, k)

    def count_range(lo: int, hi: int, floor: int = 1) -> tuple[int, int]:
        f_lo, f_hi = factors(2)
        new_lo = max(floor, round(lo * f_lo))
        return new_lo, max(new_lo, round(hi * f_hi))

    shares = {}
    for name, (share, lo, hi) in patterns.shares.items():
        (f_share,) = factors(1)
        group = count_range(lo, hi, floor=min(lo, 2)) if hi > 1 else (lo, hi)
        if hi > 1 and group[1] < 2:  # a group pattern stays one
            group = (group[0], 2)
        shares[name] = (float(share * f_share), *group)

    behaviour = {}
    for name, row in patterns.behaviour.items():
        if name in FIXED:
            behaviour[name] = row
            continue
        values = dict(zip(BEHAVIOUR_COLUMNS, np.asarray(row, dtype=np.float64) * factors(len(row)), strict=True))
        for column in BEHAVIOUR_COLUMNS:
            if column.startswith("p_"):
                values[column] = float(np.clip(values[column], 0.0, PROBABILITY_CAP.get(column, 1.0)))
        values["tries"] = max(1, round(values["tries"]))
        lo, hi = sorted(float(np.clip(values[c], 0.0, 0.95)) for c in ("disc_lo", "disc_hi"))
        values["disc_lo"], values["disc_hi"] = lo, hi
        behaviour[name] = tuple(values[c] for c in BEHAVIOUR_COLUMNS)

    order_rate = {
        name: rate if name in FIXED else float(rate * factors(1)[0]) for name, rate in patterns.order_rate.items()
    }

    flash = {}
    for name, (join, per_sale) in patterns.flash.items():
        if name in FIXED:
            flash[name] = (join, per_sale)
            continue
        f_join, f_orders = factors(2)
        flash[name] = (float(np.clip(join * f_join, 0.0, 1.0)), float(1.0 + (per_sale - 1.0) * f_orders))

    own_entities = {
        pool: {name: count_range(*counts) for name, counts in rows.items()}
        for pool, rows in patterns.own_entities.items()
    }
    shared_entities = {}
    for pool, rows in patterns.shared_entities.items():
        new_rows = []
        for name, per_group, per_member, share in rows:
            group = count_range(*per_group)
            f_member, f_share = factors(2)
            new_rows.append(
                (name, group, max(1, round(per_member * f_member)), float(np.clip(share * f_share, 0.0, 1.0)))
            )
        shared_entities[pool] = tuple(new_rows)

    f_lo, f_hi = factors(2)
    lo, hi = patterns.card_trouble_failure
    failure = sorted(float(np.clip(v, 0.05, 0.95)) for v in (lo * f_lo, hi * f_hi))
    return Patterns(shares, behaviour, order_rate, flash, own_entities, shared_entities, (failure[0], failure[1]))
