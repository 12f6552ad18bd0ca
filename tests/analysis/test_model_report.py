"""pipeline.analysis.model_report: what a training run logged, read back from the tracking store."""

from __future__ import annotations

import os

from matplotlib.figure import Figure
from mlflow.tracking import MlflowClient

from pipeline import analysis


def test_logged_plots_downloads_the_runs_plots_without_writing_to_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the store keeps its artefacts beside the working directory
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.create_run(client.create_experiment("plots"))
    for name in ("pr_curve", "score_distribution"):
        figure = Figure()
        figure.subplots().plot([0, 1], [1, 0])
        client.log_figure(run.info.run_id, figure, f"plots/{name}.png")
    client.set_terminated(run.info.run_id)
    capsys.readouterr()
    environment = dict(os.environ)

    got = analysis.logged_plots(uri, run.info.run_id)

    assert sorted(got) == ["pr_curve", "score_distribution"]
    assert all(path.is_file() and path.suffix == ".png" for path in got.values())
    # A notebook reads stderr as a failure: MLflow's progress bar goes to stdout instead.
    assert capsys.readouterr().err == ""
    assert dict(os.environ) == environment  # nothing switched through the environment
