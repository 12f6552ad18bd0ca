"""Checks every command makes before it writes anything: a mistake in the command line or the
settings stops it in one line having created no file, directory, database or registry.

* the day asked for is over in UTC (its scores would otherwise be made on missing hours);
* the snapshot directory exists and holds every required table with its columns (only the
  schemas are read here; the rows are validated later);
* no output lands inside the snapshot or on an input file;
* the review database URL names a lasting database (``review_db.check_url``) and, for a
  command that only reads it, exists;
* the model registry a run scores from exists (a missing SQLite store is not created);
* the engine asked for can run here (``--engine spark`` needs the ``spark`` extra).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from features.time import as_of_end
from pipeline import registry, review_db
from pipeline.engine import check_engine
from pipeline.errors import UsageError
from pipeline.settings import Settings
from pipeline.snapshot import check_snapshot


def day_is_over(as_of: date, now: datetime | None = None) -> None:
    """Refuse an `as_of` whose UTC day has not ended at `now` (default: the clock)."""
    now = now or datetime.now(UTC)
    end = as_of_end(as_of)
    if end > now:
        raise UsageError(
            f"--as-of {as_of} has not ended yet in UTC (it ends at {end:%Y-%m-%dT%H:%MZ}, now "
            f"{now.astimezone(UTC):%Y-%m-%dT%H:%MZ}): its scores would be made on missing hours"
        )


def outputs_outside(data: Path, *outputs: Path) -> None:
    """Refuse any output path inside the snapshot directory `data` (or equal to it), or equal to
    one of its input files wherever they really live (a table may be a symbolic link). Checks the
    snapshot first (`snapshot.check_snapshot`)."""
    inputs = {f.resolve() for f in check_snapshot(data)}
    snapshot = Path(data).resolve()
    for output in outputs:
        target = Path(output).resolve()
        if target == snapshot or snapshot in target.parents:
            raise UsageError(f"output {output} is inside the snapshot directory {data}: write outputs elsewhere")
        if target in inputs or any(f.is_relative_to(target) for f in inputs):
            raise UsageError(f"output {output} would replace an input file of {data}: write outputs elsewhere")


def check_run(data: Path, as_of: date, settings: Settings, now: datetime | None = None) -> None:
    """Everything `buyer-abuse run` needs, checked before it creates its first file."""
    day_is_over(as_of, now)
    outputs_outside(data, settings.runs)
    review_db.check_url(settings.review_db)
    registry.check_store(settings.tracking_uri)
    check_engine(settings.engine)
