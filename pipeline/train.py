"""`buyer-abuse train`: training examples drawn like scoring rows, hyper-parameters chosen on a
backtest of the nightly run, a bagged LightGBM refitted on everything known, an MLflow run,
registration and the champion/challenger decision (docs/model.md).

Stages: validate the snapshot; feature tables at every cut-off (shared by the backtests and
the final fit); for each backtest window, the examples known at its cut and the population the
run would have scored then; a small seeded search judged on those backtests; the final fit on
every label known at T; the figures, plots and model logged; promotion.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import warnings
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import mlflow
import numpy as np
import polars as pl

from features.build import FEATURE_SET_VERSION
from features.catalogue import feature_names
from features.time import as_of_end
from models.backtest import FIGURES, Window, judge, later_labels, population, windows
from models.dataset import TrainingConfig, cutoffs, draw_examples, merge_labels
from models.estimator import AbuseClassifier, check_columns, feature_frame, fit_examples, predict
from models.evaluate import BASELINES, baseline_scores
from models.plots import importance_figure, pr_figure, precision_at_k_figure, score_figure
from models.promotion import ChampionState, Comparison, promote
from models.queue import ranked
from models.search import SearchConfig, search
from models.shift import tenure_shift
from models.unlabelled import downweighted
from pipeline import registry
from pipeline.engine import build_local, open_engine, unknown_families
from pipeline.errors import InputError
from pipeline.progress import Stages, track
from pipeline.settings import Settings
from pipeline.snapshot import Snapshot, fingerprint, load_snapshot, summarize, write_rejects

log = logging.getLogger("buyer_abuse")
HEADLINE = "precision_at_k"  # the backtest figure that chooses parameters and gates promotion


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    version: str
    alias: str
    metrics: dict[str, float]
    champion: Comparison


@dataclass(frozen=True)
class Backtest:
    """One window's examples (known at its cut), the population the run would have scored at
    its cut, and the later labels that judge it."""

    window: Window
    examples: pl.DataFrame
    population: pl.DataFrame
    later: pl.DataFrame


@dataclass(frozen=True)
class Outcome:
    """What a training produced, for the MLflow run and the registry."""

    examples: pl.DataFrame  # the final training rows
    tests: list[Backtest]
    params: dict  # the estimator parameters chosen on the backtest
    history: list[dict]  # the search's trials
    model: AbuseClassifier
    metrics: dict[str, float]
    shift: list[dict]  # models.shift.tenure_shift
    plotted: pl.DataFrame | None  # the shortest backtest window, scored, for its plots


def feature_snapshots(
    snapshot: Snapshot, labels: pl.DataFrame | None, times: list[datetime], build=build_local
) -> dict:
    """Feature tables at each cut-off (by `build`: an engine of ``pipeline.engine``), with the
    naive baselines' inputs joined."""
    out = {}
    for at in track(times, "feature snapshots"):
        out[at] = build(snapshot, labels, at).join(baseline_scores(snapshot.orders, at), on="account_id", how="left")
    return out


def last_activity(snapshot: Snapshot, accounts: list[str]) -> pl.DataFrame:
    """account_id, the times it did something (an order, a payment attempt, a session), for
    `accounts`; models.dataset reads whether a decision stopped it."""
    events = [
        snapshot.orders.lazy().select("account_id", at="placed_at"),
        snapshot.payment_attempts.lazy().select("account_id", at="attempted_at"),
    ]
    if snapshot.sessions is not None:
        events.append(snapshot.sessions.lazy().select("account_id", at="started_at"))
    return pl.concat(events).filter(pl.col("account_id").is_in(accounts)).collect()


def _latest_before(events: pl.DataFrame, t: datetime) -> pl.DataFrame:
    return events.filter(pl.col("at") < t).group_by("account_id").agg(last_active_at=pl.col("at").max())


def known_before(labels: pl.DataFrame | None, t: datetime) -> pl.DataFrame | None:
    return None if labels is None else labels.filter(pl.col("decided_at") < t)


def train(
    data: Path,
    as_of: date,
    settings: Settings,
    *,
    verdicts: pl.DataFrame | None = None,
    training: TrainingConfig = TrainingConfig(),
    searching: SearchConfig = SearchConfig(),
) -> TrainResult:
    """Train on everything known at the end of `as_of` (labels plus analysts' `verdicts`),
    register the model and move `champion` to it when the promotion rule says so."""
    stages = Stages()
    t = as_of_end(as_of)
    with stages("validate snapshot"):
        loaded = load_snapshot(data, reject_limit=settings.reject_limit, actions=settings.actions)
    snapshot, inputs = loaded.snapshot, summarize(loaded)
    inputs["unknown_families"] = unknown_families(snapshot, t)
    for source, families in inputs["unknown_families"].items():
        log.warning("the snapshot has no %s: features of %s are unknown (null)", source, ", ".join(families))
    labels = merge_labels(snapshot.labels, verdicts)
    times = cutoffs(t, training)
    names = feature_names()
    with stages("feature snapshots"), open_engine(settings.engine, settings.spark) as build:
        snaps = feature_snapshots(snapshot, labels, times, build)
    with stages("training set"):
        abusers = [] if labels is None else labels.filter(pl.col("label") == "abuse")["account_id"].unique().to_list()
        events = last_activity(snapshot, abusers)
        final = draw_examples(snaps, labels, _latest_before(events, t), t, training)
        _check_trainable(final, as_of)
        final = downweighted(final, AbuseClassifier(bags=1), names)
        tests = _backtests(snaps, labels, events, t, times[0], training, searching, names)
        log.info(
            "training rows: %d (%d abuse, %d accounts); backtests: %s",
            final.height,
            int(final["y"].sum()),
            final["account_id"].n_unique(),
            ", ".join(f"{b.window.days} days ({b.later['y'].sum()} later abuse labels)" for b in tests) or "none",
        )
    with stages("search on the backtest"):
        scored: dict[str, list[pl.DataFrame]] = {}  # each trial's scored backtest populations

        def judged(params: dict) -> list[dict]:
            scored[_key(params)] = [_scored(test, params, names) for test in tests]
            return [
                {"days": test.window.days, **judge(ranking, test.later, settings.capacity)}
                for test, ranking in zip(tests, scored[_key(params)], strict=True)
            ]

        best, history = search(judged, searching, headline=HEADLINE)
    with stages("fit"):
        model = fit_examples(AbuseClassifier(**(best | {"bags": searching.bags})), final, names)
    outcome = Outcome(
        examples=final,
        tests=tests,
        params=best,
        history=history,
        model=model,
        metrics=_figures(tests, best, names, settings.capacity, history),
        shift=_shift(model, final, population(snaps[t], labels, t), names, settings.capacity),
        plotted=_plotted(tests[0], scored[_key(best)][0]) if tests else None,
    )
    with stages("log and register"):
        return _register(data, as_of, t, settings, loaded, inputs, training, searching, outcome)


def _backtests(snaps, labels, events, t, first_cutoff, training, searching, names) -> list[Backtest]:
    """Each backtest window's examples (drawn with the labels known at its cut, as if training
    then), the population the run would have scored at the cut, and the later labels."""
    tests = []
    for w in windows(t, searching.backtest_days, first_cutoff, searching.lead_days):
        known = known_before(labels, w.cut)
        examples = draw_examples(snaps, known, _latest_before(events, w.cut), w.cut, training)
        if not _both_classes(examples):
            continue
        examples = downweighted(examples, AbuseClassifier(bags=1), names)
        tests.append(Backtest(w, examples, population(snaps[w.cut], known, w.cut), later_labels(labels, w)))
    return tests


def _both_classes(examples: pl.DataFrame) -> bool:
    return not examples.is_empty() and 0 < int(examples["y"].sum()) < examples.height


def _check_trainable(examples: pl.DataFrame, as_of: date) -> None:
    if not _both_classes(examples):
        raise InputError(f"cannot train as of {as_of}: training needs both abuse and legit examples")


def _key(params: dict) -> str:
    return json.dumps(params, sort_keys=True)


def _scored(test: Backtest, params: dict, names: list[str]) -> pl.DataFrame:
    """account_id, score: the backtest's population scored by a model with `params` trained
    on the examples known at its cut."""
    model = fit_examples(AbuseClassifier(**params), test.examples, names)
    return test.population.select("account_id", score=pl.Series(predict(model, test.population, names)))


def _plotted(test: Backtest, ranking: pl.DataFrame) -> pl.DataFrame:
    """A backtest's scored population with the naive baselines' scores and y (1: labelled abuse
    after the cut): what the backtest plots show."""
    return (
        ranking.join(test.population.select("account_id", *BASELINES), on="account_id")
        .join(test.later, on="account_id", how="left")
        .with_columns(pl.col("y").fill_null(0))
    )


def _figures(tests: list[Backtest], best: dict, names: list[str], capacity: int, history: list[dict]) -> dict:
    """The backtest figures of the chosen parameters per window, their mean and spread, and the
    naive baselines judged on the same populations and windows."""
    chosen = next(h["figures"] for h in history if h["params"] == best)
    metrics: dict[str, float] = {}
    for figures in chosen:
        for name, value in figures.items():
            if name != "days":
                metrics[f"backtest_{figures['days']}d_{name}"] = value
    for name in FIGURES:
        values = [f[name] for f in chosen if not math.isnan(f.get(name, math.nan))]
        if values:
            metrics[f"backtest_{name}"] = float(np.mean(values))
            metrics[f"backtest_{name}_spread"] = float(max(values) - min(values))
    for baseline in BASELINES:
        for test in tests:
            scored = test.population.select("account_id", score=pl.col(baseline).fill_null(0.0) + _ties(test))
            for name, value in judge(scored, test.later, capacity).items():
                if name in FIGURES:
                    metrics[f"baseline_{baseline}_{test.window.days}d_{name}"] = value
        for name in FIGURES:
            values = [metrics.get(f"baseline_{baseline}_{b.window.days}d_{name}", math.nan) for b in tests]
            if values and not all(math.isnan(v) for v in values):
                metrics[f"baseline_{baseline}_{name}"] = float(np.nanmean(values))
    floors = [metrics[f"baseline_{b}_{HEADLINE}"] for b in BASELINES if f"baseline_{b}_{HEADLINE}" in metrics]
    if floors:
        metrics[f"baseline_best_{HEADLINE}"] = max(floors)
    return metrics


def _shift(model: AbuseClassifier, final: pl.DataFrame, scored: pl.DataFrame, names: list[str], capacity: int):
    """The tenure and recency of the training positives against the top of the queue the model
    produces at T (models.shift); each large shift is a warning."""
    top = ranked(scored.select("account_id", score=pl.Series(predict(model, scored, names)))).head(capacity)
    queue = top.join(scored, on="account_id")
    shift = tenure_shift(final.filter(pl.col("y") == 1), queue)
    for row in shift:
        if row["shifted"]:
            log.warning(
                "training positives and the top of the queue differ in %s (median %.0f vs %.0f, KS %.2f): "
                "the model may rank by age, not behaviour",
                row["feature"],
                row["positives_median"],
                row["queue_median"],
                row["ks"],
            )
    return shift


def _ties(test: Backtest) -> pl.Expr:
    """A baseline's ties broken by more orders (more evidence first): a fraction below 1."""
    orders = pl.col("orders").fill_null(0.0)
    return orders / (orders.max() + 1) * 1e-3


def _register(data, as_of, t, settings, loaded, inputs, training, searching, outcome: Outcome):
    final, tests, model, metrics, history, shift = (
        outcome.examples,
        outcome.tests,
        outcome.model,
        outcome.metrics,
        outcome.history,
        outcome.shift,
    )
    registry.discard_incomplete(settings.tracking_uri)  # what a killed training left half-registered
    names = feature_names()
    digest = fingerprint(data)
    with mlflow.start_run(run_name=f"train as of {as_of}") as run:
        mlflow.set_tags(registry.provenance())
        examples = final.select(*names, pl.col("y", "weight").cast(pl.Float64)).to_pandas()
        with warnings.catch_warnings():
            # MLflow registers two local-file source classes of one name and says so on every call.
            warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple")
            dataset = mlflow.data.from_pandas(
                examples, source=str(Path(data).resolve()), targets="y", name="training examples", digest=digest[:20]
            )
        mlflow.log_input(dataset, context="training")
        mlflow.log_params(
            {
                "as_of": as_of.isoformat(),
                "data": str(Path(data).resolve()),
                "data_sha256": digest,
                "feature_set_version": FEATURE_SET_VERSION,
                "features": len(names),
                "train_rows": final.height,
                "train_abuse_accounts": final.filter(pl.col("y") == 1)["account_id"].n_unique(),
                "train_accounts": final["account_id"].n_unique(),
                "input_rows": sum(c["rows"] for c in inputs["tables"].values()),
                "input_rejected_rows": inputs["rejected_rows"],
                "backtest_windows": ",".join(str(b.window.days) for b in tests),
                **{f"training.{k}": v for k, v in asdict(training).items()},
                **{f"search.{k}": v for k, v in asdict(searching).items()},
                **{f"model.{k}": v for k, v in model.get_params().items()},
            }
        )
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        registry.log_json({"feature_set_version": FEATURE_SET_VERSION, "features": names}, "feature_list.json")
        registry.log_json(history, "search_history.json")
        registry.log_json(shift, "tenure_shift.json")
        mlflow.log_metrics({f"shift_{row['feature']}_ks": row["ks"] for row in shift if np.isfinite(row["ks"])})
        shifted = [row["feature"] for row in shift if row["shifted"]]
        mlflow.set_tag("tenure_shift_warning", ", ".join(shifted) or "none")
        registry.log_json(inputs, "inputs/summary.json")
        if loaded.rejects.height:
            with tempfile.TemporaryDirectory() as tmp:
                write_rejects(loaded.rejects, Path(tmp) / "rejects.parquet")
                mlflow.log_artifact(str(Path(tmp) / "rejects.parquet"), "inputs")
        registry.log_figure(importance_figure(names, model.gain_importance()), "plots/feature_importance.png")
        if outcome.plotted is not None:
            judged = outcome.plotted
            title = f"backtest: scored at T-{tests[0].window.days}d, judged by later labels"
            registry.log_figure(pr_figure(judged, f"Precision-recall, {title}"), "plots/pr_curve.png")
            registry.log_figure(
                precision_at_k_figure(judged, settings.capacity, f"Precision at k, {title}"), "plots/precision_at_k.png"
            )
        train_scores = predict(model, final, names)
        groups = np.where(
            final["y"].to_numpy() == 1, "abuse", np.where(final["labelled"].to_numpy(), "legit", "presumed legit")
        )
        registry.log_figure(score_figure(train_scores, groups, "Training scores"), "plots/score_distribution.png")
        cut = min((b.window.cut for b in tests), default=t)
        logged = registry.log_model(
            model,
            feature_frame(final.head(50), names),
            {
                "feature_set_version": FEATURE_SET_VERSION,
                "as_of": as_of.isoformat(),
                "labels_before": t.isoformat(),
                "data_sha256": digest,
            },
        )
        champion = compare_champion(settings.tracking_uri, tests, settings.capacity, names)
        candidate = metrics.get(f"backtest_{HEADLINE}", math.nan)
        floor = metrics.get(f"baseline_best_{HEADLINE}", math.nan)
        alias = registry.CHAMPION if promote(candidate, champion, floor) else registry.CHALLENGER
        version = registry.register(logged, alias)  # the last step: a version exists only with its tags and alias
        mlflow.set_tags(
            {
                "alias": alias,
                "registered_version": version,
                "champion_comparison": champion.state.value,
                "champion_comparison_reason": champion.reason,
            }
        )
        if champion.state is ChampionState.COMPARED and np.isfinite(champion.precision):
            mlflow.log_metric(f"champion_backtest_{HEADLINE}", champion.precision)
    log.info(
        "registered %s version %s as %s (backtest %s %.3f; champion: %s; earliest cut %s)",
        registry.MODEL_NAME,
        version,
        alias,
        HEADLINE,
        candidate,
        f"{champion.precision:.3f}" if champion.state is ChampionState.COMPARED else champion.state.value,
        cut.date(),
    )
    return TrainResult(run.info.run_id, version, alias, metrics, champion)


def compare_champion(uri: str, tests: list[Backtest], capacity: int, names: list[str]) -> Comparison:
    """The current champion judged on the candidate's backtests (models.promotion): absent when
    there is none or it cannot score the current feature set; not comparable when it was
    trained on labels decided inside a window; otherwise its mean headline figure there."""
    try:
        champion = registry.load(uri, registry.CHAMPION)
        check_columns(
            pl.DataFrame(schema=dict.fromkeys(names, pl.Float64)), champion.columns, champion.feature_set_version
        )
    except (registry.RegistryError, ValueError) as exc:
        log.info("no comparable champion (%s)", exc)
        return Comparison(ChampionState.ABSENT, reason=str(exc))
    seen_until = champion.tags.get("labels_before")
    if not tests or (seen_until and datetime.fromisoformat(seen_until) > min(b.window.cut for b in tests)):
        reason = f"trained on labels decided up to {seen_until}, inside the backtest windows"
        log.info("the champion (%s) was %s: not comparable", champion.label, reason)
        return Comparison(ChampionState.NOT_COMPARABLE, reason=reason)
    figures = []
    for test in tests:
        scored = test.population.select("account_id", score=pl.Series(predict(champion.model, test.population, names)))
        figures.append(judge(scored, test.later, capacity).get(HEADLINE, math.nan))
    return Comparison(ChampionState.COMPARED, float(np.nanmean(figures)) if figures else math.nan)
