"""The model: registered versions and their metrics, the plots training logged, feature importance."""

from __future__ import annotations

import sys
import tempfile
from contextlib import redirect_stderr
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from features.catalogue import lookup
from models import plots
from models.evaluate import BASELINES
from pipeline import registry
from pipeline.analysis.locations import sqlite_url


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    uri = sqlite_url(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def model_versions(tracking_uri: str) -> pd.DataFrame:
    """Every registered version of the model, oldest first: version, aliases (comma-separated),
    created (UTC), run_id, the run's as_of, feature_set_version, training rows and abuse
    accounts, and every metric the training run logged (backtest_precision_at_k, the baselines',
    champion_backtest_precision_at_k, ...)."""
    client = _client(tracking_uri)
    aliases: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(registry.MODEL_NAME).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in client.search_model_versions(f"name='{registry.MODEL_NAME}'"):
        run = client.get_run(mv.run_id)
        params = run.data.params
        rows.append(
            {
                "version": int(mv.version),
                "aliases": ", ".join(sorted(aliases.get(str(mv.version), []))),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC"),
                "run_id": mv.run_id,
                "as_of": params.get("as_of"),
                "feature_set_version": params.get("feature_set_version"),
                "train_rows": float(params.get("train_rows", "nan")),
                "train_abuse_accounts": float(params.get("train_abuse_accounts", "nan")),
                **run.data.metrics,
            }
        )
    return pd.DataFrame(rows).sort_values("version").reset_index(drop=True)


def metrics_figure(versions: pd.DataFrame) -> Figure:
    """The backtest's precision at k and average precision of each version (mean over its
    windows), with the naive baselines on the same windows and, where logged, the then-champion
    judged there."""
    fig = Figure(figsize=(12, 4.5), layout="constrained")
    left, right = fig.subplots(1, 2)
    x = versions["version"].to_numpy()
    labels = [f"v{v}\n{a}" if a else f"v{v}" for v, a in zip(versions["version"], versions["aliases"], strict=True)]
    panels = (
        (left, "precision_at_k", "Precision at k (k = abuse labels after the cut)"),
        (right, "average_precision", "Average precision"),
    )
    for ax, metric, title in panels:
        series = {"model": f"backtest_{metric}", **{f"baseline: {b}": f"baseline_{b}_{metric}" for b in BASELINES}}
        if metric == "precision_at_k":
            series["champion at the time"] = "champion_backtest_precision_at_k"
        for (name, column), style in zip(series.items(), ("-o", "--s", "--^", ":x"), strict=False):
            if column in versions.columns:
                ax.plot(x, versions[column].to_numpy(dtype=float), style, label=name)
        ax.set_xticks(x, labels)
        ax.set(xlabel="registered version", ylabel=metric.replace("_", " "), title=title, ylim=(0, 1.02))
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Backtest of the nightly run, across registered versions", fontsize=13)
    return fig


def logged_plots(tracking_uri: str, run_id: str, folder: str = "plots") -> dict[str, Path]:
    """The PNG plots the training run logged (pr_curve, precision_at_k, score_distribution,
    feature_importance), downloaded to a temporary folder: {name: path}."""
    client = _client(tracking_uri)
    target = Path(tempfile.mkdtemp(prefix="buyer-abuse-plots-"))
    # MLflow draws a download progress bar on stderr, where a notebook shows failures; the bar
    # goes to stdout instead, with the cell's other output (as pipeline.registry does with its
    # messages). Nothing is switched off, and the environment is left alone.
    with redirect_stderr(sys.stdout):
        local = Path(client.download_artifacts(run_id, folder, str(target)))
    return {p.stem: p for p in sorted(local.glob("*.png"))}


def feature_importance(tracking_uri: str, alias: str = registry.CHAMPION) -> pd.DataFrame:
    """Gain and split importance of the model with `alias`, most important first, with each
    feature's family and meaning (version in the frame's `attrs["version"]`)."""
    loaded = registry.load(sqlite_url(tracking_uri), alias)
    frame = pd.DataFrame(
        {
            "feature": loaded.names,
            "gain": loaded.model.gain_importance(),
            "splits": loaded.model.split_importance(),
        }
    ).assign(
        family=lambda f: f["feature"].map(lambda n: getattr(lookup(n), "family", None)),
        meaning=lambda f: f["feature"].map(lambda n: getattr(lookup(n), "meaning", None)),
    )
    frame = frame.sort_values("gain", ascending=False).reset_index(drop=True)
    frame.attrs["version"] = loaded.version
    return frame


def importance_figure(importance: pd.DataFrame, top: int = 25) -> Figure:
    """``models.plots.importance_figure`` of a `feature_importance` frame."""
    fig = plots.importance_figure(importance["feature"].tolist(), importance["gain"].to_numpy(dtype=float), top)
    version = importance.attrs.get("version")
    if version:
        fig.axes[0].set_title(f"{registry.MODEL_NAME} v{version}: top {min(top, len(importance))} features by gain")
    return fig
