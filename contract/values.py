"""Value sets of the contract: who may cancel an order, what a label says, where a review stands.

Each is a ``StrEnum``, so a member compares equal to its text (``CancelInitiator.BUYER ==
"buyer"``) and every table keeps plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class CancelInitiator(StrEnum):
    """`orders.cancel_initiator`: who cancelled the order."""

    BUYER = "buyer"
    SELLER = "seller"
    LOGISTICS = "logistics"
    PAYMENT = "payment"
    PLATFORM = "platform"


class SuspectBasis(StrEnum):
    """Why a buyer counts as a suspect in the seller exposure table (``contract.outputs.SELLER_EXPOSURE``)."""

    CONFIRMED = "confirmed"  # an abuse label or analyst's verdict in force at the as-of instant
    QUEUED = "queued"  # in the review queue the run wrote for the as-of date
    ABOVE_CUT = "above_cut"  # scored at or above the run's review cut (the lowest score within capacity)


class Label(StrEnum):
    """`labels.label`: a decided outcome."""

    ABUSE = "abuse"
    LEGIT = "legit"


class ReviewStatus(StrEnum):
    """`review_queue.status`: `open` when the batch writes a row; analysts set the others."""

    OPEN = "open"
    CONFIRMED_ABUSE = "confirmed_abuse"
    CLEARED = "cleared"
    ESCALATED = "escalated"


class CaseAction(StrEnum):
    """`review_events.action`: what an analyst did to a queue row."""

    CLAIM = "claim"  # took the case: others are refused until it is released or decided
    RELEASE = "release"  # gave it back
    VERDICT = "verdict"  # set the status (a decision, or escalated)


# The same sets as plain strings, in declaration order, for data-frame code and SQL.
CANCEL_INITIATORS: tuple[str, ...] = tuple(m.value for m in CancelInitiator)
LABELS: tuple[str, ...] = tuple(m.value for m in Label)
SUSPECT_BASES: tuple[str, ...] = tuple(m.value for m in SuspectBasis)
# The cancellations a buyer causes: cancelling or refusing the order, or never paying for it (a
# payment that timed out or was declined). A suspect's cancellation by one of these is
# abuse-driven; the seller's stock-outs, carriers' failures and platform holds are not.
BUYER_CAUSED: tuple[str, ...] = (CancelInitiator.BUYER.value, CancelInitiator.PAYMENT.value)
# The stage an order reached before it was cancelled.
CANCEL_STAGES: tuple[str, ...] = ("before_payment", "after_payment", "after_shipment")
REVIEW_STATUSES: tuple[str, ...] = tuple(m.value for m in ReviewStatus)
CASE_ACTIONS: tuple[str, ...] = tuple(m.value for m in CaseAction)
VERDICTS: tuple[str, ...] = REVIEW_STATUSES[1:]  # what an analyst may set: every status but open
# The verdicts that are decisions, read back as labels by training; escalated and open are not.
LABEL_OF_STATUS: dict[str, str] = {
    ReviewStatus.CONFIRMED_ABUSE.value: Label.ABUSE.value,
    ReviewStatus.CLEARED.value: Label.LEGIT.value,
}
ISO_COUNTRY = r"^[A-Z]{2}$"
# What an identifier (every `*_id` column) may hold: 1 to 256 characters, none of them a control
# character (U+0000-U+001F, U+007F-U+009F). A NUL byte, for one, cannot be stored in a
# PostgreSQL text column; a tab or a newline breaks every log and CSV an id is printed in.
ID_MAX_LENGTH = 256
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,256}$"


class RuleAction(StrEnum):
    """What validation does with a row that breaks a rule (docs/data_contract.md, "Bad input")."""

    REJECT = "reject"  # the row goes to the rejects file and is left out
    REPAIR = "repair"  # the row is kept with the fault fixed by the rule's stated repair, and recorded
