"""The input tables of a marketplace snapshot (docs/data_contract.md section 1), declared once.

Each table is a pandera ``DataFrameModel`` over polars. The declared field types are the types
the loader casts to, the field options and the ``dataframe_check`` methods are the row rules,
and ``FOREIGN_KEYS`` lists the cross-table rules pandera cannot express on one frame. ``TABLES``
names each table's key and event time, and ``LATER_STATES`` the order states reached after
placement. Everything that reads, validates, simulates or cuts a snapshot at an instant takes
its types and rules from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime

from contract.values import CANCEL_INITIATORS, ID_PATTERN, ISO_COUNTRY, LABELS, RuleAction

# Every timestamp is normalised to this type on load: UTC, microseconds.
UTC = {"time_zone": "UTC", "time_unit": "us"}


def _ordered(earlier: str, later: str) -> pl.Expr:
    """True where `earlier <= later` or either is missing (the order of present states)."""
    return pl.col(earlier).is_null() | pl.col(later).is_null() | (pl.col(earlier) <= pl.col(later))


def _id(**options) -> object:
    """A field holding an identifier: the contract's id characters (contract.values.ID_PATTERN)."""
    return pa.Field(str_matches=ID_PATTERN, **options)


class _Strict(pa.DataFrameModel):
    class Config:
        strict = False  # extra columns are kept but ignored (contract section 1)
        coerce = False  # the loader casts, so that each row that fails a cast is rejected alone


class Accounts(_Strict):
    account_id: str = _id(unique=True)
    created_at: DateTime = pa.Field(dtype_kwargs=UTC, description="registration time")
    country: str = pa.Field(str_matches=ISO_COUNTRY, description="ISO 3166-1 alpha-2 of the buyer's profile")
    email_domain: str = pa.Field(nullable=True, description="e.g. `gmail.com`")
    phone_verified: bool = pa.Field(nullable=True)


class Orders(_Strict):
    order_id: str = _id(unique=True)
    account_id: str = _id(description="the buyer; must exist in accounts")
    seller_id: str = _id()
    item_id: str = _id(description="listing / SKU bought (one main item per order)")
    campaign_id: str = _id(nullable=True, description="promotion or flash-sale event the order was placed under")
    placed_at: DateTime = pa.Field(dtype_kwargs=UTC)
    paid_at: DateTime = pa.Field(nullable=True, dtype_kwargs=UTC, description="first successful payment")
    shipped_at: DateTime = pa.Field(nullable=True, dtype_kwargs=UTC)
    delivered_at: DateTime = pa.Field(nullable=True, dtype_kwargs=UTC)
    cancelled_at: DateTime = pa.Field(nullable=True, dtype_kwargs=UTC, description="set iff the order was cancelled")
    cancel_initiator: str = pa.Field(nullable=True, isin=CANCEL_INITIATORS, description="set iff cancelled")
    cancel_reason: str = pa.Field(
        nullable=True,
        description="free code, e.g. `changed_mind`, `out_of_stock`, `customs_hold`, `undeliverable_address`, `payment_timeout`",
    )
    amount_usd: float = pa.Field(ge=0, description="order total after discounts")
    discount_usd: float = pa.Field(ge=0, description="coupon / promotion value applied")
    item_count: int = pa.Field(ge=1)
    ship_country: str = pa.Field(str_matches=ISO_COUNTRY, description="ISO 3166-1 alpha-2")
    ship_region: str = pa.Field(nullable=True, description="region / province code inside ship_country")
    address_id: str = _id(nullable=True, description="hashed normalised shipping address")
    device_id: str = _id(nullable=True, description="device fingerprint that placed the order")
    ip_prefix: str = pa.Field(nullable=True, description="network prefix the order came from (e.g. a /24)")
    payment_instrument_id: str = _id(nullable=True, description="hashed card / wallet used for the successful payment")

    @pa.dataframe_check(name="placed_at <= paid_at <= shipped_at <= delivered_at")
    def states_in_order(cls, data: pa.PolarsData) -> pl.LazyFrame:
        chain = ["placed_at", "paid_at", "shipped_at", "delivered_at"]
        pairs = [(a, b) for i, a in enumerate(chain) for b in chain[i + 1 :]]
        return data.lazyframe.select(pl.all_horizontal(_ordered(a, b) for a, b in pairs))

    @pa.dataframe_check(name="cancelled_at >= placed_at")
    def cancelled_after_placed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_ordered("placed_at", "cancelled_at"))

    @pa.dataframe_check(name="a delivered order is not cancelled")
    def delivered_not_cancelled(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("delivered_at").is_null() | pl.col("cancelled_at").is_null())

    @pa.dataframe_check(name="cancel_initiator is set exactly when cancelled_at is")
    def initiator_iff_cancelled(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("cancelled_at").is_null() == pl.col("cancel_initiator").is_null())

    @pa.dataframe_check(name="cancel_reason is empty unless cancelled")
    def reason_only_if_cancelled(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("cancel_reason").is_null() | pl.col("cancelled_at").is_not_null())


class PaymentAttempts(_Strict):
    attempt_id: str = _id(unique=True)
    order_id: str = _id(description="must exist in orders")
    account_id: str = _id()
    instrument_id: str = _id(description="hashed card / wallet tried")
    attempted_at: DateTime = pa.Field(dtype_kwargs=UTC)
    succeeded: bool
    failure_code: str = pa.Field(
        nullable=True,
        description="e.g. `insufficient_funds`, `card_declined`, `risk_declined`, `timeout`; null iff succeeded",
    )

    @pa.dataframe_check(name="failure_code is empty exactly when succeeded")
    def failure_code_iff_failed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("failure_code").is_null() == pl.col("succeeded"))


class Sessions(_Strict):
    account_id: str = _id()
    device_id: str = _id()
    ip_prefix: str = pa.Field(nullable=True)
    started_at: DateTime = pa.Field(dtype_kwargs=UTC)


class Labels(_Strict):
    account_id: str = _id()
    label: str = pa.Field(isin=LABELS)
    decided_at: DateTime = pa.Field(dtype_kwargs=UTC, description="when the outcome became known")
    source: str = pa.Field(description="e.g. `review`, `chargeback`, `policy`")


@dataclass(frozen=True)
class Table:
    """One contract table: its model, the columns that name a row, the column that says when
    the row happened (a row is known at t only if that time is before t), whether it must exist,
    and what a row is."""

    name: str
    model: type[pa.DataFrameModel]
    key: tuple[str, ...]
    event_time: str
    required: bool
    about: str


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("accounts", Accounts, ("account_id",), "created_at", True, "one row per buyer account"),
        Table(
            "orders",
            Orders,
            ("order_id",),
            "placed_at",
            True,
            "one row per order, with the time of every state it reached",
        ),
        Table("payment_attempts", PaymentAttempts, ("attempt_id",), "attempted_at", True, "one row per payment try"),
        Table(
            "sessions",
            Sessions,
            ("account_id", "device_id", "started_at"),
            "started_at",
            False,
            "logins that link accounts to devices and networks beyond orders",
        ),
        Table(
            "labels",
            Labels,
            ("account_id", "decided_at"),
            "decided_at",
            False,
            "decided outcomes (reviews, chargebacks, policy actions); an account's latest decision before t is the one in force at t",
        ),
    )
}

# Order states reached after placement, and the columns that only exist once the state is
# reached: as of t, a state reached at or after t is unset together with its dependants.
LATER_STATES: dict[str, tuple[str, ...]] = {
    "paid_at": ("payment_instrument_id",),
    "shipped_at": (),
    "delivered_at": (),
    "cancelled_at": ("cancel_initiator", "cancel_reason"),
}

# (table, column) must exist in (table, column). Checked after each table's own rules, in
# this order, so that a row whose parent was rejected is rejected too.
FOREIGN_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("orders", "account_id", "accounts", "account_id"),
    ("payment_attempts", "order_id", "orders", "order_id"),
)


@dataclass(frozen=True)
class Repair:
    """The stated repair of a row rule (a ``dataframe_check`` of the table's model): which rows it
    fixes and how. `fix` gives, for each column it changes, the corrected value (an expression
    evaluated on the rows that break the rule only). `default` is the action when the settings
    name none."""

    table: str
    check: str  # the check's name, as the rule reads in the rejects file
    how: str
    fix: Callable[[], dict[str, pl.Expr]]
    default: RuleAction


def _raised_to_earlier_states() -> dict[str, pl.Expr]:
    chain = ["placed_at", "paid_at", "shipped_at", "delivered_at"]
    return {
        state: pl.when(pl.col(state).is_null()).then(None).otherwise(pl.max_horizontal(chain[: i + 1]))
        for i, state in enumerate(chain)
        if i
    }


# Rules a row can be repaired for, by id (TABLE.CHECK_METHOD). Every other rule only rejects.
# A repair never moves an event earlier: a fixed row makes nothing known sooner than the export
# says, so it cannot leak the future into a feature (contract section 1).
REPAIRS: dict[str, Repair] = {
    "orders.states_in_order": Repair(
        "orders",
        "placed_at <= paid_at <= shipped_at <= delivered_at",
        "each of paid_at, shipped_at, delivered_at that is set is raised to the latest state before it "
        "(e.g. an order handed to the carrier before its payment was approved is shipped when paid)",
        _raised_to_earlier_states,
        RuleAction.REPAIR,
    ),
    "orders.cancelled_after_placed": Repair(
        "orders",
        "cancelled_at >= placed_at",
        "cancelled_at is raised to placed_at",
        lambda: {"cancelled_at": pl.col("placed_at")},
        RuleAction.REJECT,
    ),
    "orders.reason_only_if_cancelled": Repair(
        "orders",
        "cancel_reason is empty unless cancelled",
        "cancel_reason is emptied",
        lambda: {"cancel_reason": pl.lit(None, pl.String)},
        RuleAction.REJECT,
    ),
}


def default_actions() -> dict[str, RuleAction]:
    """The action of every repairable rule when the settings name none."""
    return {rule: repair.default for rule, repair in REPAIRS.items()}


def polars_schema(table: str) -> dict[str, pl.DataType]:
    """The polars type of every contract column of `table`, in contract order."""
    schema = TABLES[table].model.to_schema()
    return {name: column.dtype.type for name, column in schema.columns.items()}
