"""`buyer-abuse train` end to end on a small simulated market: an MLflow run that names its data,
features and metrics, a registered version with a signature, and the champion/challenger rule."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import polars as pl
import pytest
from e2e import AS_OF, MARKET, settings_in, use_store
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

import pipeline.train
from features.build import FEATURE_SET_VERSION
from features.catalogue import feature_names
from features.labels import labels_in_force
from features.time import as_of_end
from models.dataset import TrainingConfig, split
from models.promotion import ChampionState, promote
from pipeline import registry
from pipeline.errors import InputError
from pipeline.registry import CHALLENGER, CHAMPION, MODEL_NAME, RegisteredModel
from pipeline.train import TrainResult, compare_champion, train

PLOTS = {
    "plots/pr_curve.png",
    "plots/precision_at_k.png",
    "plots/score_distribution.png",
    "plots/feature_importance.png",
}
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
        first = train(market, AS_OF, settings_in(home))
        second = train(market, AS_OF, settings_in(home))
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
def test_the_market_has_abuse_labels_on_both_sides_of_the_gap(market):
    t = as_of_end(AS_OF)
    decided = split(labels_in_force(pl.read_parquet(market / "labels.parquet"), t), t, TrainingConfig())

    abuse = decided.filter(pl.col("label") == "abuse")["part"].value_counts()
    counts = dict(zip(abuse["part"].to_list(), abuse["count"].to_list(), strict=True))
    assert counts.get("train", 0) >= 10
    assert counts.get("valid", 0) >= 10


@pytest.mark.slow
def test_the_first_train_registers_version_1_as_champion(trained_twice, client):
    first = trained_twice.first

    assert (first.version, first.alias, first.champion.state) == ("1", CHAMPION, ChampionState.ABSENT)
    assert alias_version(client, CHAMPION) == "1"
    assert first.metrics["positives"] > 0
    assert 0 <= first.metrics["precision_at_k"] <= 1


@pytest.mark.slow
def test_the_training_run_logs_its_data_feature_set_and_metrics(trained_twice, client):
    first, second = trained_twice.first, trained_twice.second
    run = client.get_run(first.run_id)
    params, metrics = run.data.params, run.data.metrics

    assert params["as_of"] == AS_OF.isoformat()
    assert params["feature_set_version"] == FEATURE_SET_VERSION
    assert params["features"] == str(len(feature_names()))
    assert re.fullmatch("[0-9a-f]{64}", params["training_data_sha256"])
    # The fingerprint names the data: the same data gives the same one.
    assert client.get_run(second.run_id).data.params["training_data_sha256"] == params["training_data_sha256"]
    assert int(params["train_abuse"]) > 0
    for name in (
        "precision_at_k",
        "recall_at_k",
        "pr_auc",
        "baseline_buyer_cancels_60d_precision_at_k",
        "baseline_cancel_rate_precision_at_k",
        "baseline_cancel_rate_recall_at_k",
        "k",
    ):
        assert metrics[name] == pytest.approx(first.metrics[name]), name
    assert "champion_precision_at_k" not in metrics  # there was nothing to compare with
    assert (run.data.tags["alias"], run.data.tags["registered_version"]) == (CHAMPION, "1")


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
def test_the_registered_version_has_a_signature_of_every_feature(trained_twice, client):
    version = client.get_model_version(MODEL_NAME, "1")
    signature = mlflow.models.get_model_info(f"models:/{MODEL_NAME}/1").signature

    assert version.run_id == trained_twice.first.run_id
    assert version.tags["feature_set_version"] == FEATURE_SET_VERSION
    assert [c.name for c in signature.inputs.inputs] == feature_names()
    assert {c.type.name for c in signature.inputs.inputs} == {"double"}
    assert signature.outputs is not None
    champion = registry.load(settings_in(trained_twice.home).tracking_uri, CHAMPION)
    assert (champion.version, champion.label) == ("1", f"{MODEL_NAME}/1")
    assert champion.columns == dict.fromkeys(feature_names(), "Float64")


@pytest.mark.slow
def test_a_second_train_that_does_not_beat_the_champion_is_challenger(trained_twice, client):
    first, second = trained_twice.first, trained_twice.second
    run = client.get_run(second.run_id)
    logged = run.data.metrics

    assert second.version == "2"
    # The champion was re-scored on the candidate's validation window, and both figures were logged ...
    assert logged["champion_precision_at_k"] == pytest.approx(second.champion.precision)
    assert logged["precision_at_k"] == pytest.approx(second.metrics["precision_at_k"])
    # ... and the alias follows them: champion only when strictly better.
    assert second.alias == (CHAMPION if logged["precision_at_k"] > logged["champion_precision_at_k"] else CHALLENGER)
    # Same data, same (deterministic) model: a tie, which keeps the champion.
    assert second.champion.precision == pytest.approx(first.metrics["precision_at_k"])
    assert second.metrics["precision_at_k"] == pytest.approx(first.metrics["precision_at_k"])
    assert second.alias == CHALLENGER
    assert run.data.tags["alias"] == CHALLENGER
    assert (alias_version(client, CHAMPION), alias_version(client, CHALLENGER)) == ("1", "2")


@pytest.mark.slow
def test_a_better_model_takes_the_champion_alias(market, tmp_path, monkeypatch):
    uri = use_store(monkeypatch, tmp_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    # A deliberately bad first champion: trained on inverted labels, it ranks abusers last.
    real_fit = pipeline.train.fit_examples
    inverted = lambda model, rows: real_fit(model, rows.with_columns(y=1 - pl.col("y")))
    monkeypatch.setattr(pipeline.train, "fit_examples", inverted)
    figures = set(plt.get_fignums())
    bad = train(market, AS_OF, settings_in(tmp_path))
    monkeypatch.setattr(pipeline.train, "fit_examples", real_fit)

    good = train(market, AS_OF, settings_in(tmp_path))

    assert set(plt.get_fignums()) == figures  # the plots were logged and closed, not left open

    assert (bad.version, bad.alias) == ("1", CHAMPION)
    assert good.version == "2"
    assert good.champion.precision == pytest.approx(bad.metrics["precision_at_k"])
    assert good.metrics["precision_at_k"] > good.champion.precision
    assert good.alias == CHAMPION
    logged = client.get_run(good.run_id).data.metrics
    assert logged["precision_at_k"] > logged["champion_precision_at_k"]
    assert (alias_version(client, CHAMPION), alias_version(client, CHALLENGER)) == ("2", None)


@pytest.mark.slow
def test_training_without_labels_before_the_gap_fails_and_registers_nothing(market, tmp_path, monkeypatch):
    use_store(monkeypatch, tmp_path)
    early = MARKET.start + timedelta(days=20)  # every label would be decided in the gap or later

    with pytest.raises(InputError, match=f"^cannot train as of {early}: training needs both abuse and legit examples"):
        train(market, early, settings_in(tmp_path))
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "mlruns").exists()


VALID_FROM = datetime(2026, 3, 10, tzinfo=UTC)


def test_no_champion_means_nothing_to_compare_with(tmp_path):
    found = compare_champion(settings_in(tmp_path).tracking_uri, pl.DataFrame({"y": [1, 0]}), 1, VALID_FROM)

    assert found.state is ChampionState.ABSENT


def loads(monkeypatch: pytest.MonkeyPatch, champion: RegisteredModel) -> None:
    monkeypatch.setattr(registry, "load", lambda uri, alias=CHAMPION: champion)


def test_a_champion_that_cannot_score_the_feature_set_is_not_compared(monkeypatch):
    loads(monkeypatch, RegisteredModel(model=None, version="7", columns={"a_retired_feature": "Float64"}, tags={}))
    table = pl.DataFrame({"y": [1, 0], "orders_7d": [1.0, 2.0]})

    assert compare_champion("unused", table, 1, VALID_FROM).state is ChampionState.ABSENT


def test_a_champion_of_another_feature_set_version_is_not_compared(monkeypatch):
    same_names = {name: "Float64" for name in feature_names()}
    loads(monkeypatch, RegisteredModel(model=None, version="7", columns=same_names, tags={"feature_set_version": "v0"}))
    table = pl.DataFrame({name: [0.0, 1.0] for name in feature_names()}).with_columns(y=pl.Series([1, 0]))

    assert compare_champion("unused", table, 1, VALID_FROM).state is ChampionState.ABSENT


def test_a_champion_trained_on_labels_inside_the_window_keeps_its_alias(monkeypatch):
    later = {"labels_before": (VALID_FROM + timedelta(days=3)).isoformat()}
    loads(monkeypatch, RegisteredModel(model=None, version="9", columns={"orders_7d": "Float64"}, tags=later))

    found = compare_champion("unused", pl.DataFrame({"y": [1, 0], "orders_7d": [1.0, 2.0]}), 1, VALID_FROM)
    assert found.state is ChampionState.NOT_COMPARABLE
    assert not promote(0.99, found)


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
