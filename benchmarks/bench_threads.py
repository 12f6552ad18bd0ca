"""LightGBM thread count on this machine: fit time of the training set `buyer-abuse train`
builds for a 50k-account market, with n_jobs 1 and 2, alone and while another process keeps
one core busy (as a second job on a two-core scheduler host would).

    .venv/bin/python benchmarks/bench_threads.py
"""

from __future__ import annotations

import multiprocessing
import time
from datetime import date

import lightgbm as lgb
import polars as pl
from bench_common import market, save

from features.time import as_of_end
from models.dataset import TrainingConfig, snapshot_times, training_examples
from models.estimator import AbuseClassifier, feature_frame
from pipeline.snapshot import load_snapshot
from pipeline.train import feature_snapshots


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


def main() -> None:
    data = market(50_000, seed=3)
    t = as_of_end(date(2026, 3, 31))
    snapshot = load_snapshot(data).snapshot
    snaps = feature_snapshots(snapshot, snapshot.labels, snapshot_times(t, TrainingConfig()))
    examples = training_examples(snaps, snapshot.labels, t, TrainingConfig())
    train = examples.filter(pl.col("part") == "train")
    X, y, w = feature_frame(train), train["y"].to_numpy(), train["weight"].to_numpy()
    rows = []
    for load in (False, True):
        stop = multiprocessing.Event()
        spinner = multiprocessing.Process(target=_spin, args=(stop,)) if load else None
        if spinner:
            spinner.start()
        for n_jobs in (1, 2):
            params = AbuseClassifier(n_jobs=n_jobs).lgbm_params(rounds=300)
            start = time.perf_counter()
            lgb.LGBMClassifier(**params).fit(X, y, sample_weight=w)
            rows.append(
                {
                    "n_jobs": n_jobs,
                    "other_core_busy": load,
                    "rounds": 300,
                    "seconds": round(time.perf_counter() - start, 2),
                }
            )
            print(rows[-1], flush=True)
        if spinner:
            stop.set()
            spinner.join()
    save("threads", {"train_examples": train.height, "features": train.width, "runs": rows})


if __name__ == "__main__":
    main()
