"""Where a run's outputs live: one directory per scoring date, ``RUNS/as_of=DATE/``.

This module is the one place that knows the naming. Beside each run directory a run keeps its
lock file (``as_of=DATE.lock``, removed when the run ends) and builds its outputs in a hidden
``.as_of=DATE.partial`` directory that is moved into place when complete; a run directory with a
``summary.json`` is complete. A run stopped by the reject limit leaves its rejects in
``as_of=DATE.rejects.parquet`` beside the run directories (removed by the next complete run of
that date).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

PREFIX = "as_of="
SUMMARY = "summary.json"
SELLERS = "sellers.parquet"  # contract.outputs.SELLER_EXPOSURE
SELLER_CANCELS = "seller_cancels.parquet"  # contract.outputs.SELLER_CANCELS
_NAME = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})$")


def run_dir(runs: Path, as_of: date) -> Path:
    """The directory of the run of `as_of` under `runs`."""
    return Path(runs) / f"{PREFIX}{as_of.isoformat()}"


def lock_file(runs: Path, as_of: date) -> Path:
    return Path(runs) / f"{PREFIX}{as_of.isoformat()}.lock"


def partial_dir(runs: Path, as_of: date) -> Path:
    """Where the run of `as_of` builds its outputs before they are moved into place."""
    return Path(runs) / f".{PREFIX}{as_of.isoformat()}.partial"


def old_dir(runs: Path, as_of: date) -> Path:
    """Where the previous run directory of `as_of` waits while a new one is moved into place on a
    filesystem that cannot swap directories atomically (``files.replace_directory``)."""
    return Path(runs) / f".{PREFIX}{as_of.isoformat()}.old"


def stopped_rejects(runs: Path, as_of: date) -> Path:
    """The rejects of a run of `as_of` that the reject limit stopped."""
    return Path(runs) / f"{PREFIX}{as_of.isoformat()}.rejects.parquet"


def run_date(directory: Path) -> date | None:
    """The scoring date a run directory is named after, None for any other name."""
    found = _NAME.match(Path(directory).name)
    return date.fromisoformat(found.group(1)) if found else None


def is_complete(directory: Path) -> bool:
    return (Path(directory) / SUMMARY).is_file()


def complete_runs(runs: Path) -> list[Path]:
    """Every complete run directory under `runs`, oldest scoring date first."""
    found = [p for p in Path(runs).glob(f"{PREFIX}*") if p.is_dir() and run_date(p) and is_complete(p)]
    return sorted(found, key=run_date)


def previous_run(runs: Path, as_of: date) -> Path | None:
    """The latest complete run before `as_of`, if any."""
    earlier = [p for p in complete_runs(runs) if run_date(p) < as_of]
    return earlier[-1] if earlier else None
