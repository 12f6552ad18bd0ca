"""What the pipeline writes that other systems read: the review table and the run files.

Each output is a tuple of ``Column`` declarations. ``pipeline.review_db`` builds its SQL table
from ``REVIEW_QUEUE``; docs/data_contract.md lists every output from here. Outputs change only
by extension: new optional columns or tables, never a rename or a new type.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.values import CASE_ACTIONS, REVIEW_STATUSES


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

# truth.parquet beside a simulated snapshot (never read by the pipeline itself).
TRUTH: tuple[Column, ...] = (
    Column("account_id", "text", False, "every account of the simulated market", key=True),
    Column("is_abuser", "bool", False, "the account is run by an abuser"),
    Column("pattern", "text", False, "the behaviour the simulator gave the account (honest or abusive)"),
    Column("group", "text", True, "the household or ring the account belongs to"),
    Column("remote", "bool", False, "the account ships to a remote region"),
)
