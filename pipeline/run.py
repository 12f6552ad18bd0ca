"""`buyer-abuse run`: the scheduled batch. Validate, build features, score with the champion,
write the review queue, and leave a complete run directory ``RUNS/as_of=DATE/``
(``pipeline.rundirs``).

Safety:

* every input and setting is checked before anything is created (``pipeline.preflight``);
* one run per date at a time: a lock file beside the run directory, and a lock row in the
  review database (``review_db.run_lock``), so that two runs of a date into one review table
  with different run directories cannot both proceed; a second run is refused (exit 75);
* the review database and the champion are checked before any work, so an unreachable
  database or an empty registry fails in one line having written nothing;
* outputs are written into a hidden partial directory and moved into place only when the
  review table has been written (one transaction): a run killed at any point leaves the
  previous run directory and review table as they were, and the next run completes.
"""

from __future__ import annotations

import logging
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from filelock import FileLock, Timeout

from contract.outputs import SELLER_EXPOSURE
from features.labels import confirmed_abusers
from features.time import as_of_end
from models.dataset import merge_labels
from models.estimator import check_columns, predict
from models.explain import reasons
from models.population import LOOKBACK, is_active
from models.queue import ranked, review_cut, review_queue
from models.sellers import cancellations, seller_exposure, suspects, window_orders
from pipeline import files, preflight, registry, review_db, rundirs
from pipeline.drift import nightly_drift, top_features
from pipeline.engine import build_local, unknown_families
from pipeline.errors import ConfigError, InputError, PipelineError, RejectLimitExceeded, RunLocked, UsageError
from pipeline.progress import Stages
from pipeline.settings import Settings
from pipeline.snapshot import load_snapshot, summarize, write_rejects

log = logging.getLogger("buyer_abuse")

DRIFT_FEATURES = 10  # the champion's most important features compared with the previous run


__all__ = ["RunLocked", "backfill", "run"]


def run(data: Path, as_of: date, settings: Settings, *, now=None) -> dict:
    """Do the whole batch for one date; returns the summary written to summary.json. `now`
    (default: the clock) is when the run happens: `as_of` must be over by then."""
    preflight.check_run(data, as_of, settings, now)
    settings.runs.mkdir(parents=True, exist_ok=True)
    lock_path = rundirs.lock_file(settings.runs, as_of)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunLocked(
            f"another run for {as_of} is in progress (lock {lock.lock_file}); not starting a second: retry later"
        ) from None
    try:
        if files.restore_directory(rundirs.run_dir(settings.runs, as_of), rundirs.old_dir(settings.runs, as_of)):
            log.warning("restored the run directory of %s that an interrupted run had moved aside", as_of)
        stages = Stages()
        with stages("connect"):
            engine = review_db.connect(settings.review_db, attempts=review_db.CONNECT_ATTEMPTS)
        try:
            purpose = f"run directory {rundirs.run_dir(settings.runs, as_of)}"
            with review_db.run_lock(engine, as_of, purpose) as owner:
                return _batch(data, as_of, settings, engine, stages, owner)
        finally:
            engine.dispose()  # also after a failure: PostgreSQL connections are not left open
    finally:
        # Removed while still held, so that lock files do not pile up; a run that opened the
        # file just before finds it locked and is refused, and the review database's lock row
        # stands behind it.
        lock_path.unlink(missing_ok=True)
        lock.release()


def _batch(data: Path, as_of: date, settings: Settings, engine, stages: Stages, owner: str | None = None) -> dict:
    t = as_of_end(as_of)
    with stages("champion"):
        champion = registry.load(settings.tracking_uri, registry.CHAMPION)
    with stages("validate"):
        try:
            loaded = load_snapshot(data, reject_limit=settings.reject_limit, actions=settings.actions)
        except RejectLimitExceeded as exc:  # the rejects say why: keep them beside the run directories
            stopped = rundirs.stopped_rejects(settings.runs, as_of)
            write_rejects(exc.rejects, stopped)
            raise RejectLimitExceeded(f"{exc} (rejects in {stopped})", exc.rejects) from None
        snap = loaded.snapshot
    with stages("features"):
        labels = merge_labels(snap.labels, review_db.verdict_labels(engine, until=t))
        features = build_local(snap, labels, as_of)
        try:
            check_columns(features, champion.columns, champion.feature_set_version)
        except ValueError as exc:
            raise ConfigError(f"{exc} (model {champion.label})") from None
    with stages("score"):
        active = features.filter(is_active())
        if active.is_empty():
            raise InputError(
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
            reasons=pl.Series(reasons(champion.model, flagged, active, champion.names, as_of=as_of), dtype=pl.String),
        )
    with stages("sellers"):
        # The merchants' side: the cancellations the run's suspects caused, seller by seller.
        suspected = suspects(labels, queued["account_id"], scores, review_cut(queued, settings.capacity), t)
        window = window_orders(snap.orders, t)
        cancels = cancellations(window, suspected, features.select("account_id", "ring_id"))
        exposure = seller_exposure(window, cancels)

    partial = rundirs.partial_dir(settings.runs, as_of)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with stages("write outputs"):
        scores.write_parquet(partial / "scores.parquet")
        features.write_parquet(partial / "features.parquet")
        write_rejects(loaded.rejects, partial / "rejects.parquet")
        queue.write_parquet(partial / "queue.parquet")
        exposure.with_columns(as_of=pl.lit(as_of)).select(c.name for c in SELLER_EXPOSURE).write_parquet(
            partial / rundirs.SELLERS
        )
        cancels.write_parquet(partial / rundirs.SELLER_CANCELS)
        summary = {
            "as_of": as_of.isoformat(),
            "model": champion.label,
            "review_db": engine.url.render_as_string(hide_password=True),
            "inputs": summarize(loaded),
            "unknown_families": unknown_families(snap, as_of),
            "accounts": features.height,
            "scored": scores.height,
            "capacity": settings.capacity,
            "queued": int((queue["rank"] <= settings.capacity).sum()),
            "kept_for_analysts": int((queue["rank"] > settings.capacity).sum()),
            "queued_sharing_a_score": int(
                queue.filter(pl.col("rank") <= settings.capacity)["score"].is_duplicated().sum()
            ),
            "already_confirmed_excluded": excluded,
            "score_quantiles": _quantiles(scores["score"]),
            "largest_rings": _largest_rings(features, queued),
            "sellers": {
                "with_cancellations": exposure.height,
                "with_abuse_driven_cancellations": int((exposure["abuse_cancels"] > 0).sum()),
                "abuse_driven_cancellations": int(exposure["abuse_cancels"].sum()),
                "suspects": suspected.height,
            },
            "drift": nightly_drift(
                settings.runs,
                as_of,
                scores,
                features,
                top_features(champion.model, champion.names, DRIFT_FEATURES),
                partial,
            ),
            "seconds": stages.seconds,
        }
    # Everything that can fail on its own is done: only now does the review table change, and
    # the run directory appears once it has.
    with stages("review table"):
        review_db.write_queue(engine, as_of, queue.to_pandas(), lock=owner)
        review_db.write_seller_exposure(engine, as_of, exposure, lock=owner)
    summary["seconds"] = stages.seconds
    files.write_json_atomic(summary, partial / rundirs.SUMMARY)
    _replace(partial, rundirs.run_dir(settings.runs, as_of))
    rundirs.stopped_rejects(settings.runs, as_of).unlink(missing_ok=True)
    _log_nightly(settings.tracking_uri, as_of, summary, rundirs.run_dir(settings.runs, as_of))
    return files.strict(summary)


def _log_nightly(uri: str, as_of: date, summary: dict, run_dir: Path) -> None:
    """The run's drift report, summary and figures in MLflow. Best effort, after the run is
    complete: a registry hiccup here loses a report, never a night."""
    drift = summary.get("drift", {}).get("columns", {})
    metrics = {"scored": summary["scored"], "queued": summary["queued"]}
    metrics |= {f"drift.{name}": entry["statistic"] for name, entry in drift.items()}
    try:
        registry.log_nightly(uri, as_of, metrics, [run_dir / "summary.json", run_dir / "drift.html"])
    except Exception as exc:
        log.warning("the run of %s is complete, but its report did not reach MLflow: %s", as_of, exc)


def _replace(partial: Path, final: Path) -> None:
    """Move the finished directory into place (``files.replace_directory``: one atomic swap where
    the filesystem allows, so a kill leaves the old or the new directory, never neither)."""
    files.replace_directory(partial, final, rundirs.old_dir(final.parent, rundirs.run_date(final)))


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


def backfill(
    data: Path, start: date, end: date, settings: Settings, force: bool = False, keep_going: bool = False
) -> list[tuple[date, str]]:
    """Run every date from `start` to `end` inclusive, skipping complete ones unless `force`.

    A failing date stops the range, unless `keep_going`: then the failure is logged, the next
    date runs, and the outcome of the failed date is ``failed: <reason>``; BackfillFailed is
    raised at the end, listing every failed date."""
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    preflight.day_is_over(end)
    done, failed = [], []
    day = start
    while day <= end:
        if rundirs.is_complete(rundirs.run_dir(settings.runs, day)) and not force:
            log.info("%s already complete, skipped", day)
            done.append((day, "skipped"))
        else:
            try:
                run(data, day, settings)
                done.append((day, "ran"))
            except PipelineError as exc:
                if not keep_going:
                    raise
                log.error("%s failed: %s", day, exc)
                done.append((day, f"failed: {exc}"))
                failed.append((day, exc))
        day += timedelta(days=1)
    if failed:
        raise BackfillFailed(done, failed)
    return done


class BackfillFailed(PipelineError):
    """`backfill --keep-going` ran every date and some failed. Its exit code is the failures':
    75 (retry later) when every one was temporary, else that of the first other failure."""

    def __init__(self, done: list[tuple[date, str]], failed: list[tuple[date, PipelineError]]) -> None:
        self.done, self.failed = done, failed
        days = ", ".join(str(day) for day, _ in failed)
        super().__init__(f"{len(failed)} of {len(done)} dates failed: {days}")
        codes = [exc.exit_code for _, exc in failed]
        lasting = [code for code in codes if code != RunLocked.exit_code]
        self.exit_code = lasting[0] if lasting else RunLocked.exit_code
