"""`buyer-abuse train` end to end on a small simulated market: an MLflow run that names its data,
code, features, backtest and search, a registered version usable with MLflow's own tools, the
backtest scoring what `run` scores, and the champion/challenger rule."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import polars as pl
import pytest
from e2e import AS_OF, FAST, MARKET, invoke, settings_in, use_store
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

import pipeline.train
from features.build import FEATURE_SET_VERSION
from features.catalogue import feature_names, lookup
from features.time import as_of_end
from models.backtest import population
from models.estimator import predict
from models.promotion import ChampionState
from pipeline import registry
from pipeline.errors import InputError
from pipeline.registry import CHALLENGER, CHAMPION, MODEL_NAME, RegisteredModel
from pipeline.run import run
from pipeline.snapshot import fingerprint, load_snapshot
from pipeline.train import HEADLINE, TrainResult, compare_champion, feature_snapshots, known_before, train
from simulator import MarketConfig, write_market

PLOTS = {"plots/score_distribution.png", "plots/feature_importance.png"}
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class TrainedTwice:
    home: Path
    first: TrainResult
    second: TrainResult


@pytest.fixture(scope="module")
def trained_twice(market: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainedTwice:
    """Two `train` runs on the same market and date, into one fresh registry."""
    home = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as mp:
        use_store(mp, home)
        first = train(market, AS_OF, settings_in(home), searching=FAST)
        second = train(market, AS_OF, settings_in(home), searching=FAST)
    return TrainedTwice(home, first, second)


@pytest.fixture
def client(trained_twice: TrainedTwice, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    uri = use_store(monkeypatch, trained_twice.home)
    registry.configure(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def alias_version(client: MlflowClient, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


@pytest.mark.slow
def test_the_first_train_registers_version_1_as_champion_with_backtest_figures(trained_twice, client):
    first = trained_twice.first

    assert (first.version, first.alias, first.champion.state) == ("1", CHAMPION, ChampionState.ABSENT)
    assert client.get_run(first.run_id).data.tags["alias"] == CHAMPION
    # Two backtest windows (14 and 28 days), each judged by labels that arrived after its cut.
    for days in (14, 28):
        assert first.metrics[f"backtest_{days}d_later_abuse_labels"] >= 5, days
        assert 0 <= first.metrics[f"backtest_{days}d_{HEADLINE}"] <= 1
    assert first.metrics[f"backtest_{HEADLINE}"] == pytest.approx(
        np.mean([first.metrics[f"backtest_{d}d_{HEADLINE}"] for d in (14, 28)])
    )
    # Judged beside the naive baselines on the same windows, and above them.
    assert first.metrics[f"backtest_{HEADLINE}"] > first.metrics[f"baseline_best_{HEADLINE}"]


@pytest.mark.slow
def test_the_training_run_logs_its_data_code_search_and_shift(trained_twice, client, market, tmp_path):
    first, second = trained_twice.first, trained_twice.second
    run_ = client.get_run(first.run_id)
    params, metrics, tags = run_.data.params, run_.data.metrics, run_.data.tags

    assert params["as_of"] == AS_OF.isoformat()
    assert params["feature_set_version"] == FEATURE_SET_VERSION
    assert params["features"] == str(len(feature_names()))
    # The fingerprint is of the input files: the same files give the same one, run after run.
    assert re.fullmatch("[0-9a-f]{64}", params["data_sha256"])
    assert params["data_sha256"] == fingerprint(market)
    assert client.get_run(second.run_id).data.params["data_sha256"] == params["data_sha256"]
    assert tags["package_version"] and re.fullmatch("([0-9a-f]{40}(\\+dirty)?|unknown)", tags["git_commit"])
    (dataset,) = run_.inputs.dataset_inputs
    assert dataset.dataset.name == "training examples"
    assert str(market.resolve()) in dataset.dataset.source
    for name, value in first.metrics.items():
        assert metrics[name] == pytest.approx(value), name
    history = json.loads(
        Path(client.download_artifacts(first.run_id, "search_history.json", str(tmp_path))).read_text()
    )
    assert len(history) == FAST.trials
    assert history[0]["params"]["num_leaves"] == params["model.num_leaves"] or any(
        h["params"]["num_leaves"] == int(params["model.num_leaves"]) for h in history
    )
    shift = json.loads(Path(client.download_artifacts(first.run_id, "tenure_shift.json", str(tmp_path))).read_text())
    assert {row["feature"] for row in shift} == {"account_age_days", "first_order_days_ago", "last_order_days_ago"}
    assert tags["tenure_shift_warning"] == (", ".join(r["feature"] for r in shift if r["shifted"]) or "none")


@pytest.mark.slow
def test_the_training_run_keeps_the_feature_list_and_plots(trained_twice, client, tmp_path):
    run_id = trained_twice.first.run_id

    listed = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"feature_list.json", *PLOTS} <= listed
    feature_list = json.loads(Path(client.download_artifacts(run_id, "feature_list.json", str(tmp_path))).read_text())
    assert feature_list == {"feature_set_version": FEATURE_SET_VERSION, "features": feature_names()}
    for plot in PLOTS:
        assert Path(client.download_artifacts(run_id, plot, str(tmp_path))).read_bytes()[:8] == PNG, plot


@pytest.mark.slow
def test_the_registered_version_has_a_signature_and_an_input_example(trained_twice, client):
    version = client.get_model_version(MODEL_NAME, "1")
    info = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/1")

    assert version.run_id == trained_twice.first.run_id
    assert version.tags["feature_set_version"] == FEATURE_SET_VERSION
    assert [c.name for c in info.signature.inputs.inputs] == feature_names()
    assert {c.type.name for c in info.signature.inputs.inputs} == {"double"}
    assert info.saved_input_example_info is not None
    champion = registry.load(settings_in(trained_twice.home).tracking_uri, CHAMPION)
    assert (champion.version, champion.label) == ("2", f"{MODEL_NAME}/2")  # the second training took over
    assert champion.columns == dict.fromkeys(feature_names(), "Float64")


@pytest.mark.slow
def test_a_second_train_with_the_same_labels_is_not_comparable_and_promoted_above_the_floor(trained_twice, client):
    first, second = trained_twice.first, trained_twice.second
    tags = client.get_run(second.run_id).data.tags

    # The champion saw every label inside the candidate's windows: no fair comparison, so it
    # cannot block; the candidate beats the naive baselines on its backtest and takes over.
    assert second.version == "2"
    assert second.champion.state is ChampionState.NOT_COMPARABLE
    assert "inside the backtest windows" in tags["champion_comparison_reason"]
    assert second.metrics[f"backtest_{HEADLINE}"] == pytest.approx(first.metrics[f"backtest_{HEADLINE}"])
    assert second.alias == CHAMPION
    assert (alias_version(client, CHAMPION), tags["alias"]) == ("2", CHAMPION)


@pytest.mark.slow
def test_the_backtest_scores_exactly_the_population_run_scores(champion, market, tmp_path, monkeypatch):
    """The backtest at a cut scores the accounts `run` on that date scores (less those it
    never queues: confirmed abusers), from the same features, to the same scores."""
    use_store(monkeypatch, champion.home)
    day = AS_OF - timedelta(days=14)
    cut = as_of_end(day)
    settings = settings_in(tmp_path, tracking_uri=champion.uri)
    run(market, day, settings)
    model = registry.load(champion.uri, CHAMPION)
    snapshot = load_snapshot(market).snapshot
    labels = known_before(snapshot.labels, cut)

    backtested = population(feature_snapshots(snapshot, labels, [cut])[cut], labels, cut)
    backtest = backtested.select("account_id", score=pl.Series(predict(model.model, backtested, model.names)))

    scored = pl.read_parquet(settings.runs / f"as_of={day}" / "scores.parquet").select("account_id", "score")
    confirmed = labels.filter(pl.col("label") == "abuse")["account_id"]
    ran = scored.filter(~pl.col("account_id").is_in(confirmed.implode()))
    joined = backtest.join(ran, on="account_id", how="full", coalesce=True)
    assert joined.height == backtest.height == ran.height
    assert (joined["score"] - joined["score_right"]).abs().max() < 1e-12


@pytest.mark.slow
def test_pyfunc_predictions_equal_the_run_scores(champion, market, tmp_path, monkeypatch):
    use_store(monkeypatch, champion.home)
    settings = settings_in(tmp_path, tracking_uri=champion.uri)
    run(market, AS_OF, settings)
    out = settings.runs / f"as_of={AS_OF}"
    features = pl.read_parquet(out / "features.parquet")
    scored = pl.read_parquet(out / "scores.parquet").join(features, on="account_id")

    served = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    probabilities = served.predict(scored.select(feature_names()).to_pandas())

    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert len(np.unique(probabilities)) > 2  # probabilities, not 0/1 labels
    assert np.max(np.abs(probabilities - scored["score"].to_numpy())) < 1e-9


@pytest.mark.slow
def test_a_model_trained_on_another_market_does_not_block_this_one(market, tmp_path, monkeypatch):
    """The demo's champion (another market, dates after this one's windows) is not comparable
    here; the model trained on this market takes the champion alias because it beats the
    naive baselines on its own backtest."""
    uri = use_store(monkeypatch, tmp_path)
    other = tmp_path / "other_market"
    later = MarketConfig(accounts=3000, days=MARKET.days + 10, seed=5)
    write_market(later, other)
    demo = train(other, later.start + timedelta(days=later.days - 1), settings_in(tmp_path), searching=FAST)

    here = train(market, AS_OF, settings_in(tmp_path), searching=FAST)

    assert (demo.version, demo.alias) == ("1", CHAMPION)
    assert here.champion.state is ChampionState.NOT_COMPARABLE
    assert (here.version, here.alias) == ("2", CHAMPION)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert alias_version(client, CHALLENGER) is None  # nobody moved version 1 to challenger: it has no alias


@pytest.mark.slow
def test_a_worse_model_that_can_be_compared_stays_challenger(market, tmp_path, monkeypatch):
    uri = use_store(monkeypatch, tmp_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    # The champion was trained 30 days earlier, before either backtest cut: it is compared on the
    # candidate's windows. A deliberately bad candidate (fitted on inverted labels) loses.
    early = train(market, AS_OF - timedelta(days=30), settings_in(tmp_path), searching=FAST)
    real_fit = pipeline.train.fit_examples
    monkeypatch.setattr(
        pipeline.train, "fit_examples", lambda m, rows, names: real_fit(m, rows.with_columns(y=1 - pl.col("y")), names)
    )
    figures = set(plt.get_fignums())

    bad = train(market, AS_OF, settings_in(tmp_path), searching=FAST)

    assert set(plt.get_fignums()) == figures  # the plots were logged and closed, not left open
    assert bad.champion.state is ChampionState.COMPARED
    assert bad.metrics[f"backtest_{HEADLINE}"] < bad.champion.precision
    assert (early.alias, bad.alias) == (CHAMPION, CHALLENGER)
    logged = client.get_run(bad.run_id).data.metrics
    assert logged[f"champion_backtest_{HEADLINE}"] == pytest.approx(bad.champion.precision)
    assert (alias_version(client, CHAMPION), alias_version(client, CHALLENGER)) == ("1", "2")

    code, out, _ = invoke("promote", "--version", "2", "--by", "ops", "--note", "chosen by hand")

    assert code == 0 and "version 2 is champion; version 1 is now challenger" in out
    assert (alias_version(client, CHAMPION), alias_version(client, CHALLENGER)) == ("2", "1")
    (logged_choice,) = client.search_runs(
        [client.get_experiment_by_name("buyer-abuse").experiment_id], "tags.kind = 'promotion'"
    )
    assert (logged_choice.data.tags["by"], logged_choice.data.tags["previous_champion"]) == ("ops", "1")


def test_promoting_a_version_that_does_not_exist_fails_in_one_line(tmp_path, monkeypatch):
    use_store(monkeypatch, tmp_path)

    code, _, err = invoke("promote", "--version", "9")

    assert code != 0 and err.startswith("buyer-abuse: error: ") and "no version 9" in err and err.count("\n") == 1


@pytest.mark.slow
def test_training_without_abuse_labels_fails_and_registers_nothing(market, tmp_path, monkeypatch):
    use_store(monkeypatch, tmp_path)
    early = MARKET.start + timedelta(days=10)  # no label decided before a mature cut-off

    with pytest.raises(InputError, match=f"^cannot train as of {early}: training needs both abuse and legit examples"):
        train(market, early, settings_in(tmp_path), searching=FAST)
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_a_market_without_sessions_names_the_unknown_families_and_never_learns_from_them(
    market, tmp_path, monkeypatch, caplog
):
    data = tmp_path / "no_sessions"
    shutil.copytree(market, data, ignore=shutil.ignore_patterns("sessions.parquet"))
    uri = use_store(monkeypatch, tmp_path)

    with caplog.at_level("WARNING", logger="buyer_abuse"):
        trained = train(data, AS_OF, settings_in(tmp_path), searching=FAST)

    assert "the snapshot has no sessions: features of sessions" in caplog.text
    model = registry.load(uri, CHAMPION).model
    names = feature_names()
    unknown = [n for n in names if lookup(n).needs and "sessions" in lookup(n).needs]
    assert unknown  # the sessions family, at least
    gain = dict(zip(names, model.gain_importance(), strict=True))
    assert all(gain[n] == 0 for n in unknown)  # an all-null column is never split on: no score rises by it
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    summary = json.loads(
        Path(client.download_artifacts(trained.run_id, "inputs/summary.json", str(tmp_path))).read_text()
    )
    assert "sessions" in summary["unknown_families"]

    settings = settings_in(tmp_path)
    night = run(data, AS_OF, settings)

    assert "sessions" in night["unknown_families"]
    features = pl.read_parquet(settings.runs / f"as_of={AS_OF}" / "features.parquet")
    assert features.select(pl.col(unknown).is_null().all()).row(0) == (True,) * len(unknown)


def loads(monkeypatch: pytest.MonkeyPatch, champion: RegisteredModel) -> None:
    monkeypatch.setattr(registry, "load", lambda uri, alias=CHAMPION: champion)


def test_no_champion_means_nothing_to_compare_with(tmp_path):
    found = compare_champion(settings_in(tmp_path).tracking_uri, [], 1, feature_names())

    assert found.state is ChampionState.ABSENT


def test_a_champion_that_cannot_score_the_feature_set_is_not_compared(monkeypatch):
    loads(monkeypatch, RegisteredModel(model=None, version="7", columns={"a_retired_feature": "Float64"}, tags={}))

    assert compare_champion("unused", [], 1, feature_names()).state is ChampionState.ABSENT


def test_a_registry_that_does_not_answer_is_tried_again(tmp_path, monkeypatch):
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE

    uri = use_store(monkeypatch, tmp_path)
    registry.configure(uri)
    monkeypatch.setattr(registry, "RETRY_WAIT", 0)
    calls = []

    def flaky(self, name, alias):
        calls.append(alias)
        if len(calls) < 3:
            raise MlflowException("service unavailable", error_code=TEMPORARILY_UNAVAILABLE)
        raise MlflowException("no such alias", error_code=RESOURCE_DOES_NOT_EXIST)

    monkeypatch.setattr(MlflowClient, "get_model_version_by_alias", flaky)

    with pytest.raises(registry.RegistryError, match="no model has the alias 'champion'"):
        registry.load(uri)
    assert len(calls) == 3  # two transient failures tried again, then the real answer
