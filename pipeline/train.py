"""`buyer-abuse train`: point-in-time training set, LightGBM fit, evaluation against naive
baselines, an MLflow run, registration and the champion/challenger decision."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import polars.selectors as cs
from sklearn.base import clone

from features.build import FEATURE_SET_VERSION
from features.catalogue import feature_names
from features.labels import labels_in_force
from features.time import as_of_end
from models.dataset import (
    TrainingConfig,
    attach_snapshots,
    merge_labels,
    snapshot_times,
    split,
    training_examples,
)
from models.estimator import AbuseClassifier, check_columns, feature_frame, fit_examples, predict
from models.evaluate import baseline_scores, ranking_metrics
from models.plots import importance_figure, pr_figure, precision_at_k_figure, score_figure
from models.promotion import ChampionState, Comparison, promote
from pipeline import registry
from pipeline.engine import build_local
from pipeline.errors import InputError
from pipeline.progress import Stages, track
from pipeline.settings import Settings
from pipeline.snapshot import Snapshot, load_snapshot, summarize, write_rejects

log = logging.getLogger("buyer_abuse")


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    alias: str
    metrics: dict[str, float]
    champion: Comparison


def fingerprint(frame: pl.DataFrame) -> str:
    """SHA-256 of the training rows (order-independent), logged so a run names its exact data.

    Floats are rounded to 10 significant digits first: polars' parallel aggregations sum in a
    varying order, so the same snapshot gives features that differ in the last bit from run to run."""
    hashes = np.sort(frame.with_columns(cs.float().round_sig_figs(10)).hash_rows(seed=0).to_numpy())
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def feature_snapshots(snapshot: Snapshot, labels: pl.DataFrame | None, times: list) -> dict:
    """Feature tables at each snapshot instant, with the naive baselines' inputs joined."""
    out = {}
    for at in track(times, "feature snapshots"):
        features = build_local(snapshot, labels, at)
        out[at] = features.join(baseline_scores(snapshot.orders, at), on="account_id", how="left")
    return out


def train(
    data: Path,
    as_of: date,
    settings: Settings,
    *,
    verdicts: pl.DataFrame | None = None,
    training: TrainingConfig = TrainingConfig(),
    estimator: AbuseClassifier | None = None,
) -> TrainResult:
    """Train on labels in force at the end of `as_of` (plus analysts' `verdicts`), register the
    model and move `champion` to it only if it beats the current champion (models.promotion)."""
    stages = Stages()
    with stages("validate snapshot"):
        loaded = load_snapshot(data, reject_limit=settings.reject_limit, actions=settings.actions)
    snapshot, inputs = loaded.snapshot, summarize(loaded)
    if inputs["rejected_rows"]:
        log.warning(
            "%d input rows broke the contract and are left out of training (rejects.parquet in the MLflow run)",
            inputs["rejected_rows"],
        )
    labels = merge_labels(snapshot.labels, verdicts)
    t = as_of_end(as_of)
    with stages("feature snapshots"):
        snaps = feature_snapshots(snapshot, labels, snapshot_times(t, training))
    with stages("training set"):
        examples = training_examples(snaps, labels, t, training)
        train_set = examples.filter(pl.col("part") == "train")
        # Validation ranks labelled accounts only: the presumed-legit sample holds unlabelled
        # abusers, which would count as false positives exactly when a model finds them.
        valid_all = examples.filter(pl.col("part") == "valid")
        valid = valid_all.filter(~pl.col("presumed"))
        unmatched = _labels_without_features(labels, examples, t, training)
        log.info(
            "training examples: %d (%d abuse), validation: %d labelled (%d abuse); %d labels had no features "
            "at their snapshot (account registered after it)",
            train_set.height,
            int(train_set["y"].sum()),
            valid.height,
            int(valid["y"].sum()),
            unmatched,
        )
    with stages("fit"):
        try:
            model = fit_examples(clone(estimator) if estimator is not None else AbuseClassifier(), train_set)
        except ValueError as exc:
            raise InputError(f"cannot train as of {as_of}: {exc}") from None
    names = feature_names()
    scored = valid.with_columns(
        score=pl.Series(predict(model, valid, names)) if valid.height else pl.lit(None, pl.Float64)
    )
    k = max(int(valid["y"].sum()), 1)
    metrics = ranking_metrics(scored, k)
    if valid_all.height > valid.height:  # for reference: the same k with the presumed-legit background mixed in
        background = valid_all.with_columns(score=pl.Series(predict(model, valid_all, names)))
        metrics["precision_at_k_with_presumed_legit"] = ranking_metrics(background, k)["precision_at_k"]

    registry.discard_incomplete(settings.tracking_uri)  # what a killed training left half-registered
    with stages("log and register"), mlflow.start_run(run_name=f"train as of {as_of}") as run:
        mlflow.log_params(
            {
                "as_of": as_of.isoformat(),
                "data": str(data.resolve()),
                "feature_set_version": FEATURE_SET_VERSION,
                "features": len(names),
                "rounds": model.rounds_,
                "labels_without_features": unmatched,
                "input_rows": sum(c["rows"] for c in inputs["tables"].values()),
                "input_rejected_rows": inputs["rejected_rows"],
                "training_data_sha256": fingerprint(
                    train_set.select("account_id", "snapshot_at", "y", "weight", *names)
                ),
                "train_examples": train_set.height,
                "train_abuse": int(train_set["y"].sum()),
                "valid_examples": valid.height,
                **{f"training.{k_}": v for k_, v in asdict(training).items()},
                **{f"model.{k_}": v for k_, v in model.get_params().items()},
            }
        )
        mlflow.log_metrics({name: value for name, value in metrics.items() if np.isfinite(value)})
        registry.log_json({"feature_set_version": FEATURE_SET_VERSION, "features": names}, "feature_list.json")
        registry.log_json(inputs, "inputs/summary.json")
        if loaded.rejects.height:
            with tempfile.TemporaryDirectory() as tmp:
                write_rejects(loaded.rejects, Path(tmp) / "rejects.parquet")
                mlflow.log_artifact(str(Path(tmp) / "rejects.parquet"), "inputs")
        if valid.height:
            registry.log_figure(pr_figure(scored), "plots/pr_curve.png")
            registry.log_figure(precision_at_k_figure(scored, k), "plots/precision_at_k.png")
            groups = np.where(
                scored["y"].to_numpy() == 1, "abuse", np.where(scored["presumed"].to_numpy(), "presumed legit", "legit")
            )
            registry.log_figure(
                score_figure(scored["score"].to_numpy(), groups, "Validation scores"), "plots/score_distribution.png"
            )
        registry.log_figure(
            importance_figure(names, model.booster_.feature_importance("gain")), "plots/feature_importance.png"
        )
        cut, valid_from = training.validation_window(t)
        logged = registry.log_model(
            model,
            feature_frame(train_set.head(50), names),
            {
                "feature_set_version": FEATURE_SET_VERSION,
                "as_of": as_of.isoformat(),
                "labels_before": cut.isoformat(),
            },
        )
        champion = compare_champion(settings.tracking_uri, valid, k, valid_from)
        alias = registry.CHAMPION if promote(metrics["precision_at_k"], champion) else registry.CHALLENGER
        version = registry.register(logged, alias)  # the last step: a version exists only with its tags and alias
        mlflow.set_tags({"alias": alias, "registered_version": version, "champion_comparison": champion.state.value})
        if champion.state is ChampionState.COMPARED and np.isfinite(champion.precision):
            mlflow.log_metric("champion_precision_at_k", champion.precision)
    log.info(
        "registered %s version %s as %s (precision at k=%d: %.3f; champion: %s)",
        registry.MODEL_NAME,
        version,
        alias,
        k,
        metrics["precision_at_k"],
        f"{champion.precision:.3f}" if champion.state is ChampionState.COMPARED else champion.state.value,
    )
    return TrainResult(run.info.run_id, version, alias, metrics, champion)


def _labels_without_features(labels: pl.DataFrame | None, examples: pl.DataFrame, t, training: TrainingConfig) -> int:
    """Labels in force that found no row in their snapshot (the account registered after it)."""
    if labels is None:
        return 0
    in_force = labels_in_force(labels, t)
    attached = attach_snapshots(in_force, snapshot_times(t, training))
    return attached.height - examples.filter(~pl.col("presumed")).height - _in_gap(attached, t, training)


def _in_gap(attached: pl.DataFrame, t, training: TrainingConfig) -> int:
    return split(attached, t, training).filter(pl.col("part").is_null()).height


def compare_champion(uri: str, valid: pl.DataFrame, k: int, valid_from: datetime) -> Comparison:
    """The current champion judged on the candidate's validation window (models.promotion):
    absent when there is none or it cannot score the current feature set; not comparable when
    it was trained on labels decided inside the window (a later training date); otherwise its
    precision at k there (NaN on an empty window)."""
    try:
        champion = registry.load(uri, registry.CHAMPION)
        check_columns(valid, champion.columns, champion.feature_set_version)
    except (registry.RegistryError, ValueError) as exc:
        log.info("no comparable champion (%s)", exc)
        return Comparison(ChampionState.ABSENT, reason=str(exc))
    seen_until = champion.tags.get("labels_before")
    if seen_until and datetime.fromisoformat(seen_until) > valid_from:
        reason = f"trained on labels decided up to {seen_until}, inside this validation window"
        log.warning("the champion (%s) was %s: it keeps the alias", champion.label, reason)
        return Comparison(ChampionState.NOT_COMPARABLE, reason=reason)
    if not valid.height:
        return Comparison(ChampionState.COMPARED)
    scored = valid.with_columns(score=pl.Series(predict(champion.model, valid, champion.names)))
    return Comparison(ChampionState.COMPARED, ranking_metrics(scored, k)["precision_at_k"])
