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


# The same sets as plain strings, in declaration order, for data-frame code and SQL.
CANCEL_INITIATORS: tuple[str, ...] = tuple(m.value for m in CancelInitiator)
LABELS: tuple[str, ...] = tuple(m.value for m in Label)
REVIEW_STATUSES: tuple[str, ...] = tuple(m.value for m in ReviewStatus)
# The verdicts that are decisions, read back as labels by training; escalated and open are not.
LABEL_OF_STATUS: dict[str, str] = {
    ReviewStatus.CONFIRMED_ABUSE.value: Label.ABUSE.value,
    ReviewStatus.CLEARED.value: Label.LEGIT.value,
}
ISO_COUNTRY = r"^[A-Z]{2}$"
