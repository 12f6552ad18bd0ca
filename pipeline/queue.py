"""`buyer-abuse queue` and `history`: the review queue and an account's case history, as a
terminal table or as CSV / JSON to export (the same rows and escaping as the review app's)."""

from __future__ import annotations

import io
import sys
from datetime import date

from rich.console import Console
from rich.table import Table

from models.explain import reason_lines
from pipeline import analysis, review_db
from pipeline.errors import InputError
from pipeline.files import json_text

TABLE_TOP = 10  # rows of a terminal table unless --top says otherwise


def show_queue(
    url: str,
    as_of: date | None,
    top: int | None,
    status: str | None = None,
    shape: str = "table",
    width: int | None = None,
) -> str:
    """The queue of `as_of` (the latest date when None), with `status` only when given, in rank
    order, `top` rows (default: TABLE_TOP for a table, all for csv and json), as text."""
    engine = review_db.connect(url, create=False)  # a mistyped path must not create a database
    rows = analysis.queue(engine, as_of)
    if rows.empty:
        raise InputError(
            "the review queue is empty" + (f" for {as_of}" if as_of else "") + ": run `buyer-abuse run` first"
        )
    day = rows["as_of"].iloc[0]
    chosen = analysis.filter_queue(rows, status=status).sort_values("rank")
    chosen = chosen.head(top or (TABLE_TOP if shape == "table" else len(chosen)))
    if shape == "csv":
        return analysis.queue_csv(chosen)
    if shape == "json":
        return json_text(analysis.export_rows(chosen)) + "\n"
    of = f" {status}" if status else ""
    table = Table(title=f"Review queue {day} (top {len(chosen)} of {len(rows)}{of})", show_lines=True)
    for column in ("rank", "account", "score", "ring", "status", "why"):
        table.add_column(column, overflow="fold")
    for row in chosen.itertuples():
        ring = row.ring_id if isinstance(row.ring_id, str) else ""
        table.add_row(str(row.rank), row.account_id, f"{row.score:.3f}", ring, row.status, reason_lines(row.reasons))
    return _rendered(table, width)


def show_history(url: str, account_id: str, shape: str = "table", width: int | None = None) -> str:
    """Every event on `account_id` (any scoring date), oldest first, as a table or JSON."""
    engine = review_db.connect(url, create=False)
    events = review_db.events(engine, [account_id])
    if events.empty:
        raise InputError(f"no claim or verdict on account {account_id!r} in this review database")
    records = [
        r | {"as_of": str(r["as_of"]), "changed_at": r["changed_at"].strftime("%Y-%m-%dT%H:%M:%SZ")}
        for r in events.astype(object).where(events.notna(), None).to_dict("records")
    ]
    if shape == "json":
        return json_text(records) + "\n"
    table = Table(title=f"History of {account_id} ({len(records)} events)")
    for column in ("when (UTC)", "queued on", "action", "from", "to", "who", "note"):
        table.add_column(column, overflow="fold")
    for r in records:
        table.add_row(
            r["changed_at"].replace("T", " ").removesuffix("Z"),
            r["as_of"],
            r["action"],
            r["from_status"] or "?",
            r["to_status"],
            r["changed_by"],
            r["note"] or "",
        )
    return _rendered(table, width)


def _rendered(table: Table, width: int | None) -> str:
    # Off a terminal rich would wrap at 80 columns; a log or a pipe reads better wide.
    out = io.StringIO()
    terminal = sys.stdout.isatty()
    Console(file=out, width=width or (None if terminal else 160), force_terminal=terminal).print(table)
    return out.getvalue()
