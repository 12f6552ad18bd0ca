"""A synthetic cross-border marketplace in the format of DATA_CONTRACT.md section 1.

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
* **Labels as review outcomes**, as the market's ``LabelProcess`` says. By default about a
  third of abusers are labelled, each decided 5-25 days after its abuse started
  (``truth.first_abuse_at``; ring-mates often in the same takedown); some honest look-alikes
  are reviewed and cleared; about 3% of verdicts are wrong in each direction and some of
  those are corrected later. A confirmed abuser is banned: it places no order after its
  label. Presets (``LABEL_PROCESSES``) and options change the delay, coverage, bans, noise,
  corrections, honest reviews and takedowns.
* **Varied patterns**: ``MarketConfig.variation`` draws every pattern's parameters around the
  tables of ``params`` (``variation``); 0 keeps them as they are.

Everything after the end of the market is cut off exactly as a snapshot taken then would
show it (later states unset, later attempts absent). Deterministic for a seed. Every array
is generated vectorised, so a million accounts take minutes (see docs/benchmarks.md).

The subsystem's modules, in the order a market is made: `params` (every number,
`LabelProcess` and `MarketConfig`), `variation` (a market's draw of pattern parameters),
`population` (accounts), `entities` (device, address, card and network pools), `labels`
(review outcomes and bans), `orders` (campaigns and order plans),
`outcomes` (what happens to each order, payment attempts) and `tables` (the contract tables,
and the only I/O). It imports nothing of the project but the `contract` package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.params import (
    ABUSE,
    HONEST,
    LABEL_PROCESSES,
    PATTERNS,
    LabelDelay,
    LabelProcess,
    MarketConfig,
    label_process,
)

if TYPE_CHECKING:
    from simulator.tables import market_tables, simulate_market, write_market

__all__ = [
    "ABUSE",
    "HONEST",
    "LABEL_PROCESSES",
    "PATTERNS",
    "LabelDelay",
    "LabelProcess",
    "MarketConfig",
    "label_process",
    "market_tables",
    "simulate_market",
    "write_market",
]
_TABLES = ("market_tables", "simulate_market", "write_market")


def __getattr__(name: str):
    # The table builders load polars and pyarrow: only when asked for, so that the parameters
    # (and the CLI's options made of them) cost no more than numpy.
    if name in _TABLES:
        from simulator import tables

        return getattr(tables, name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
