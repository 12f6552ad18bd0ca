"""`buyer-abuse queue`: the top of the review queue, with each account's reasons, on a terminal."""

from __future__ import annotations

import sys
from datetime import date

from rich.console import Console
from rich.table import Table

from models.explain import reason_lines
from pipeline import review_db
from pipeline.errors import InputError


def show_queue(url: str, as_of: date | None, top: int, console: Console | None = None) -> None:
    engine = review_db.connect(url, create=False)  # a mistyped path must not create a database
    queue = review_db.read_queue(engine, as_of)
    if queue.empty:
        raise InputError(
            "the review queue is empty" + (f" for {as_of}" if as_of else "") + ": run `buyer-abuse run` first"
        )
    day = as_of or queue["as_of"].max()
    rows = queue[queue["as_of"] == day].sort_values("rank").head(top)
    table = Table(
        title=f"Review queue {day} (top {len(rows)} of {int((queue['as_of'] == day).sum())})", show_lines=True
    )
    for column in ("rank", "account", "score", "ring", "status", "why"):
        table.add_column(column, overflow="fold")
    for row in rows.itertuples():
        why = reason_lines(row.reasons)
        ring = row.ring_id if isinstance(row.ring_id, str) else ""
        table.add_row(str(row.rank), row.account_id, f"{row.score:.3f}", ring, row.status, why)
    # Off a terminal rich would wrap at 80 columns; a log or a pipe reads better wide.
    (console or Console(width=None if sys.stdout.isatty() else 160)).print(table)
