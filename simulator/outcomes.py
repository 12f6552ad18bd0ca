"""What happens to each planned order: payment attempts, merchant and platform cancellations,
logistics failures and buyer cancellations, all vectorised over a chunk of orders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.values import CANCEL_INITIATORS
from simulator.entities import Pools
from simulator.orders import Campaigns, Plan
from simulator.params import (
    BEHAVIOUR_COLUMNS,
    COUNTRIES,
    DAY,
    FAILURE_CODES,
    HONEST_FAILURES,
    HOUR,
    ITEMS_PER_SELLER,
    MINUTE,
    MISSING,
    REMOTE_REGIONS,
    TESTING_FAILURES,
    P,
    R,
)
from simulator.population import Accounts


@dataclass(frozen=True)
class Outcome:
    paid: np.ndarray  # seconds or MISSING
    shipped: np.ndarray
    delivered: np.ndarray
    cancelled: np.ndarray
    initiator: np.ndarray  # int8 index into CANCEL_INITIATORS or -1
    reason: np.ndarray  # int8 index into REASONS or -1
    instrument: np.ndarray  # successful card or -1
    amount: np.ndarray
    discount: np.ndarray
    attempts: dict[str, np.ndarray]


def outcomes(
    rng,
    plan: Plan,
    acc: Accounts,
    pools: dict[str, Pools],
    camp: Campaigns,
    behaviour: np.ndarray,
    seller_stockout: np.ndarray,
    region_failure: np.ndarray,
) -> Outcome:
    """Payment, merchant, logistics and buyer events of every order, vectorised. `behaviour`
    is the (pattern code, BEHAVIOUR_COLUMNS) table of the market (Patterns.behaviour_table)."""
    n = len(plan.account)
    b = {name: behaviour[plan.behaviour, i] for i, name in enumerate(BEHAVIOUR_COLUMNS)}
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

    attempts = payment_tries(rng, plan, pools["card"], n_att, first_try, gap, success, card_testing)
    instrument = np.full(n, -1, dtype=np.int64)
    last = attempts["last_of_order"]
    instrument[attempts["order"][last]] = attempts["instrument"][last]
    instrument[~success] = -1
    return Outcome(paid, shipped, delivered, cancelled, initiator, reason, instrument, amount, discount, attempts)


def payment_tries(rng, plan: Plan, cards: Pools, n_att, first_try, gap, success, card_testing) -> dict[str, np.ndarray]:
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
