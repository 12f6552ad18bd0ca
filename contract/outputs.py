"""What the pipeline writes that other systems read: the review table, the seller exposure
table and the run files.

Each output is a tuple of ``Column`` declarations. ``pipeline.review_db`` builds its SQL table
from ``REVIEW_QUEUE``; docs/data_contract.md lists every output from here. Outputs change only
by extension: new optional columns or tables, never a rename or a new type.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.values import BUYER_CAUSED, CANCEL_INITIATORS, CANCEL_STAGES, CASE_ACTIONS, REVIEW_STATUSES, SUSPECT_BASES


@dataclass(frozen=True)
class Column:
    """One output column. `type` is the portable name: text, date, real, integer, bool or
    timestamp (UTC)."""

    name: str
    type: str
    nullable: bool
    notes: str
    key: bool = False  # part of the row's key


REVIEW_QUEUE_TABLE = "review_queue"
REVIEW_QUEUE: tuple[Column, ...] = (
    Column("account_id", "text", False, "the flagged account", key=True),
    Column("as_of", "date", False, "the scoring date of the run", key=True),
    Column("score", "real", False, "model probability of abuse, 0..1"),
    Column("rank", "integer", False, "1 = most suspicious in that run among accounts not confirmed as abusers"),
    Column("model_version", "text", False, "registry name and version that produced the score"),
    Column(
        "reasons",
        "text",
        False,
        "JSON list of the top contributing features, each with its value, contribution and a sentence",
    ),
    Column("ring_id", "text", True, "linked-account group the account belongs to"),
    Column("status", "text", False, f"`open` when written; analysts set {', '.join(REVIEW_STATUSES[1:])}"),
    Column("reviewed_by", "text", True, "the analyst who decided"),
    Column("reviewed_at", "timestamp", True, "when the analyst decided"),
    Column("note", "text", True, "free text for the next analyst"),
)
# The columns a batch run writes. A re-run of a date replaces them, never an analyst's status,
# reviewer, time or note.
QUEUE_COLUMNS: tuple[str, ...] = ("account_id", "score", "rank", "model_version", "reasons", "ring_id")

# Every change an analyst makes to a review_queue row, appended, never updated: the case history.
REVIEW_EVENTS_TABLE = "review_events"
REVIEW_EVENTS: tuple[Column, ...] = (
    Column("event_id", "integer", False, "increasing with time of writing", key=True),
    Column("account_id", "text", False, "the queue row's account"),
    Column("as_of", "date", False, "the queue row's scoring date"),
    Column("action", "text", False, f"what was done: {', '.join(f'`{a}`' for a in CASE_ACTIONS)}"),
    Column("from_status", "text", True, "the row's status before (null: a verdict made before events were kept)"),
    Column("to_status", "text", False, "the row's status after (a claim or release leaves it unchanged)"),
    Column("changed_by", "text", False, "the signed-in analyst (app), or `--by` (command line)"),
    Column("changed_at", "timestamp", False, "when"),
    Column("note", "text", True, "the verdict's note"),
)

# Who is working on a queue row now: at most one analyst per (account_id, as_of).
CLAIMS_TABLE = "claims"
CLAIMS: tuple[Column, ...] = (
    Column("account_id", "text", False, "the claimed queue row's account", key=True),
    Column("as_of", "date", False, "the claimed queue row's scoring date", key=True),
    Column("claimed_by", "text", False, "the analyst working on it; removed on release or verdict"),
    Column("claimed_at", "timestamp", False, "when it was claimed"),
)

# OUT/as_of=DATE/scores.parquet: every scored account of the run.
SCORES: tuple[Column, ...] = (
    Column("account_id", "text", False, "every account the run scored", key=True),
    Column("score", "real", False, "model probability of abuse, 0..1"),
    Column("rank", "integer", False, "1 = highest score of the run (ties: account_id ascending)"),
)

# The seller side of abusive cancellations (merchant protection), per scoring date: in the run
# directory (sellers.parquet, seller_cancels.parquet) and the review database (seller_exposure).
SELLER_WINDOW_DAYS = 30  # orders placed in this many days before the end of the as-of date
SELLER_EXPOSURE_TABLE = "seller_exposure"
_CAUSED = " or ".join(BUYER_CAUSED)
_SUSPECT = "a buyer confirmed as an abuser, queued or scored at or above the review cut, and not cleared"
_ABUSE = f"cancellations initiated by {_CAUSED} on orders of {_SUSPECT}"
_WILSON = "95% Wilson score interval"
_BASIS_WORDS = dict(
    zip(
        SUSPECT_BASES, ("confirmed as abusers", "in the review queue", "scored at or above the review cut"), strict=True
    )
)
SELLER_EXPOSURE: tuple[Column, ...] = (
    Column("seller_id", "text", False, "a seller with at least one cancelled order in the window", key=True),
    Column("as_of", "date", False, "the scoring date of the run", key=True),
    Column("orders", "integer", False, f"orders placed with the seller in the {SELLER_WINDOW_DAYS} days to the as-of"),
    Column("cancellations", "integer", False, "of those orders, the ones cancelled by the as-of"),
    *(
        Column(f"cancelled_by_{who}", "integer", False, f"cancellations with cancel_initiator `{who}`")
        for who in CANCEL_INITIATORS
    ),
    *(
        Column(f"cancelled_{stage}", "integer", False, f"cancellations {stage.replace('_', ' ')}")
        for stage in CANCEL_STAGES
    ),
    Column("abuse_cancels", "integer", False, f"abuse-driven cancellations: {_ABUSE}"),
    *(
        Column(f"abuse_cancels_{basis}", "integer", False, f"abuse-driven cancellations by buyers {who}")
        for basis, who in _BASIS_WORDS.items()
    ),
    Column("cancel_rate", "real", False, "cancellations / orders"),
    Column("cancel_rate_low", "real", False, f"lower bound of the {_WILSON} of cancel_rate"),
    Column("cancel_rate_high", "real", False, f"upper bound of the {_WILSON} of cancel_rate"),
    Column(
        "corrected_cancel_rate",
        "real",
        True,
        "(cancellations - abuse_cancels) / (orders - abuse_cancels): the rate had the abuse-driven orders never "
        "been placed; null when every order was one",
    ),
    Column("corrected_rate_low", "real", True, f"lower bound of the {_WILSON} of corrected_cancel_rate"),
    Column("corrected_rate_high", "real", True, f"upper bound of the {_WILSON} of corrected_cancel_rate"),
    Column("suspect_buyers", "integer", False, "distinct suspect buyers behind the abuse-driven cancellations"),
    Column("suspect_rings", "integer", False, "distinct linked-account rings among those buyers"),
    Column("flash_units", "integer", False, "items (item_count) ordered from the seller in flash sales in the window"),
    Column("flash_units_abused", "integer", False, "of them, items in orders later cancelled abuse-driven"),
    Column("flash_abused_share", "real", True, "flash_units_abused / flash_units; null without flash-sale orders"),
    Column(
        "target_score",
        "real",
        False,
        "how much suspects aimed at this seller: over each attacking group (a ring, else one account) its "
        "abuse-driven cancellations here times the share of all its abuse-driven cancellations that landed here",
    ),
    Column(
        "target_rank",
        "integer",
        True,
        "1 = most targeted seller of the run (ties: seller_id); null when no abuse-driven cancellation",
    ),
    Column(
        "reasons",
        "text",
        False,
        "JSON list of the attacking groups, most cancellations first: ring_id, accounts, basis, orders, items and a sentence",
    ),
)
# OUT/as_of=DATE/seller_cancels.parquet: the cancelled orders behind sellers.parquet, each with its cause.
SELLER_CANCELS: tuple[Column, ...] = (
    Column("order_id", "text", False, "an order placed in the window and cancelled by the as-of", key=True),
    Column("seller_id", "text", False, ""),
    Column("account_id", "text", False, "the buyer"),
    Column("item_id", "text", False, ""),
    Column("placed_at", "timestamp", False, ""),
    Column("cancelled_at", "timestamp", False, ""),
    Column("cancel_initiator", "text", False, ""),
    Column("stage", "text", False, ", ".join(CANCEL_STAGES)),
    Column("flash", "bool", False, "placed in a flash sale"),
    Column("item_count", "integer", False, ""),
    Column("ring_id", "text", True, "the buyer's linked-account ring"),
    Column("confirmed", "bool", False, "the buyer's decision in force at the as-of is abuse"),
    Column("queued", "bool", False, "the buyer is in the review queue of the as-of"),
    Column("above_cut", "bool", False, "the buyer scored at or above the review cut of the as-of"),
    Column(
        "basis", "text", True, f"why the buyer is a suspect, strongest of {', '.join(SUSPECT_BASES)}; null if not one"
    ),
    Column("abuse_driven", "bool", False, f"the cancellation counts as abuse-driven ({_CAUSED}, by a suspect)"),
    Column("cause", "text", False, "`abuse` when abuse_driven, else the cancel_initiator"),
)

# truth.parquet beside a simulated snapshot (never read by the pipeline itself).
TRUTH: tuple[Column, ...] = (
    Column("account_id", "text", False, "every account of the simulated market", key=True),
    Column("is_abuser", "bool", False, "the account is run by an abuser"),
    Column("pattern", "text", False, "the behaviour the simulator gave the account (honest or abusive)"),
    Column("group", "text", True, "the household or ring the account belongs to"),
    Column("remote", "bool", False, "the account ships to a remote region"),
)
