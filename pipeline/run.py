"""`buyer-abuse run`: the scheduled batch. Validate, build features, score with the champion,
write the review queue, and leave a complete run directory ``RUNS/as_of=DATE/``
(``pipeline.rundirs``).

Safety:

* one run per date at a time: a lock file beside the run directory (a second run is refused);
* the review database and the champion are checked before any work, so an unreachable
  database or an empty registry fails in one line having written nothing;
* outputs are written into a hidden partial directory and moved into place only when the
  review table has been written (one transaction): a run killed at any point leaves the
  previous run directory and review table as they were, and the next run completes.
"""

from __future__ import annotations

import json
import logging
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from filelock import FileLock, Timeout

from features.labels import confirmed_abusers
from features.time import as_of_end
from models.dataset import merge_labels
from models.drift import PSI_WARN, psi
from models.estimator import check_columns, predict
from models.explain import reasons
from models.population import LOOKBACK, is_active
from models.queue import ranked, review_queue
from pipeline import registry, review_db, rundirs
from pipeline.engine import build_local
from pipeline.errors import PipelineError
from pipeline.progress import Stages
from pipeline.settings import Settings
from pipeline.snapshot import load_snapshot, summarize, write_rejects

log = logging.getLogger("buyer_abuse")

DRIFT_FEATURES = 10  # the champion's most important features compared with the previous run


class RunLocked(PipelineError):
    """Another run for the same date holds the lock."""


def run(data: Path, as_of: date, settings: Settings) -> dict:
    """Do the whole batch for one date; returns the summary written to summary.json."""
    settings.runs.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(rundirs.lock_file(settings.runs, as_of)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLocked(
            f"another run for {as_of} is in progress (lock {lock.lock_file}); not starting a second"
        ) from None
    try:
        stages = Stages()
        with stages("connect"):
            engine = review_db.connect(settings.review_db)
        try:
            return _batch(data, as_of, settings, engine, stages)
        finally:
            engine.dispose()  # also after a failure: PostgreSQL connections are not left open
    finally:
        lock.release()


def _batch(data: Path, as_of: date, settings: Settings, engine, stages: Stages) -> dict:
    t = as_of_end(as_of)
    with stages("champion"):
        champion = registry.load(settings.tracking_uri, registry.CHAMPION)
    with stages("validate"):
        loaded = load_snapshot(data, reject_limit=settings.reject_limit)
        snap = loaded.snapshot
    with stages("features"):
        labels = merge_labels(snap.labels, review_db.verdict_labels(engine, until=t))
        features = build_local(snap, labels, as_of)
        try:
            check_columns(features, champion.columns, champion.feature_set_version)
        except ValueError as exc:
            raise PipelineError(f"{exc} (model {champion.label})") from None
    with stages("score"):
        active = features.filter(is_active())
        if active.is_empty():
            raise PipelineError(
                f"no account had an order or a payment attempt in the {LOOKBACK} before the end of {as_of} "
                f"({features.height} accounts registered by then): is --as-of right?"
            )
        score = pl.Series(predict(champion.model, active, champion.names), dtype=pl.Float64)
        scores = ranked(active.select("account_id", score=score))
        touched = review_db.touched_accounts(engine, as_of)
        queued, excluded = review_queue(scores, confirmed_abusers(labels, t), touched, settings.capacity)
        flagged = queued.join(features, on="account_id").sort("rank")
        queue = flagged.select(
            "account_id",
            "score",
            "rank",
            "ring_id",
            model_version=pl.lit(champion.label),
            reasons=pl.Series(reasons(champion.model, flagged, active, champion.names), dtype=pl.String),
        )

    partial = rundirs.partial_dir(settings.runs, as_of)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with stages("write outputs"):
        scores.write_parquet(partial / "scores.parquet")
        features.write_parquet(partial / "features.parquet")
        write_rejects(loaded.rejects, partial / "rejects.parquet")
        queue.write_parquet(partial / "queue.parquet")
        summary = {
            "as_of": as_of.isoformat(),
            "model": champion.label,
            "review_db": engine.url.render_as_string(hide_password=True),
            "inputs": summarize(loaded),
            "accounts": features.height,
            "scored": scores.height,
            "capacity": settings.capacity,
            "queued": int((queue["rank"] <= settings.capacity).sum()),
            "kept_for_analysts": int((queue["rank"] > settings.capacity).sum()),
            "already_confirmed_excluded": excluded,
            "score_quantiles": _quantiles(scores["score"]),
            "largest_rings": _largest_rings(features, queued),
            "drift": _drift(settings.runs, as_of, scores, features, champion),
            "seconds": stages.seconds,
        }
    # Everything that can fail on its own is done: only now does the review table change, and
    # the run directory appears once it has.
    with stages("review table"):
        review_db.write_queue(engine, as_of, queue.to_pandas())
    summary["seconds"] = stages.seconds
    (partial / rundirs.SUMMARY).write_text(json.dumps(summary, indent=2))
    _replace(partial, rundirs.run_dir(settings.runs, as_of))
    return summary


def _replace(partial: Path, final: Path) -> None:
    """Move the finished directory into place; the previous one is removed only afterwards."""
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    partial.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _quantiles(score: pl.Series) -> dict[str, float]:
    qs = (0.5, 0.9, 0.99, 0.999)
    return {f"p{q * 100:g}": round(float(score.quantile(q, interpolation="linear") or 0), 5) for q in qs} | {
        "max": round(float(score.max() or 0), 5)
    }


def _largest_rings(features: pl.DataFrame, queued: pl.DataFrame, top: int = 5) -> list[dict]:
    rings = (
        features.filter(pl.col("ring_id").is_not_null())
        .group_by("ring_id")
        .agg(size=pl.len(), queued=pl.col("account_id").is_in(queued["account_id"].implode()).sum())
    )
    return rings.sort(["size", "ring_id"], descending=[True, False]).head(top).to_dicts()


def _drift(
    runs: Path, as_of: date, scores: pl.DataFrame, features: pl.DataFrame, champion: registry.RegisteredModel
) -> dict:
    """PSI of the score and of the champion's top features against the previous complete run.
    Best effort: a previous run that cannot be compared is reported, never fatal."""
    previous = rundirs.previous_run(runs, as_of)
    if previous is None:
        return {"previous_run": None}
    gains = champion.model.gain_importance()
    top = [champion.names[i] for i in np.argsort(gains)[::-1][:DRIFT_FEATURES]]
    try:
        before = pl.read_parquet(previous / "scores.parquet")
        present = [f for f in top if f in pl.read_parquet_schema(previous / "features.parquet")]
        before_features = pl.read_parquet(previous / "features.parquet", columns=present)
    except Exception as exc:  # a pruned or unreadable old run must not stop tonight's
        log.warning("drift: previous run %s unreadable (%s)", previous.name, exc)
        return {"previous_run": previous.name, "error": str(exc).splitlines()[0]}
    values = {"score": psi(before["score"].to_numpy(), scores["score"].to_numpy())}
    values |= {
        f: psi(before_features[f].to_numpy(), features[f].to_numpy()) for f in top if f in before_features.columns
    }
    values = {k: round(v, 4) for k, v in values.items()}
    warnings = [f"{k}: PSI {v:.2f} > {PSI_WARN}" for k, v in values.items() if v > PSI_WARN]
    for warning in warnings:
        log.warning("drift against %s: %s", previous.name, warning)
    return {
        "previous_run": previous.name,
        "psi": values,
        "threshold": PSI_WARN,
        "warnings": warnings,
        "not_compared": [f for f in top if f not in before_features.columns],
    }


def backfill(data: Path, start: date, end: date, settings: Settings, force: bool = False) -> list[tuple[date, str]]:
    """Run every date from `start` to `end` inclusive, skipping complete ones unless `force`."""
    if end < start:
        raise PipelineError(f"--to {end} is before --from {start}")
    done = []
    day = start
    while day <= end:
        if rundirs.is_complete(rundirs.run_dir(settings.runs, day)) and not force:
            log.info("%s already complete, skipped", day)
            done.append((day, "skipped"))
        else:
            run(data, day, settings)
            done.append((day, "ran"))
        day += timedelta(days=1)
    return done
