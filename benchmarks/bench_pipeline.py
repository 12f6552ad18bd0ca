"""Training and the nightly run, whole commands as a user runs them: `buyer-abuse train` on a
90-day market of `--train` accounts, then `buyer-abuse run` with that champion on the market of
every size (scoring does not need a model of the same market to be timed).

    .venv/bin/python benchmarks/bench_pipeline.py --train 100000 --run 100000 300000 1000000

Writes benchmarks/results/pipeline.json; docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import argparse
import os
import shutil

from bench_common import CLI, OUT, market, measure, save

AS_OF = "2026-03-31"  # the last day of a 90-day market starting 2026-01-01


def main(train_size: int, run_sizes: list[int]) -> None:
    work = OUT / "pipeline"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"}
    data = market(train_size)
    rows = [
        {
            "command": "train",
            "accounts": train_size,
            **measure([CLI, "train", "--data", str(data), "--as-of", AS_OF], cwd=work, env=env),
        }
    ]
    print(rows[-1], flush=True)
    for accounts in run_sizes:
        command = [
            CLI,
            "run",
            "--data",
            str(market(accounts)),
            "--as-of",
            AS_OF,
            "--out",
            str(work / f"runs_{accounts}"),
        ]
        rows.append({"command": "run", "accounts": accounts, **measure(command, cwd=work, env=env)})
        print(rows[-1], flush=True)
    save("pipeline", {"runs": rows, "note": f"run scores with the champion trained on the {train_size}-account market"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--run", type=int, nargs="*", default=[100_000, 300_000, 1_000_000])
    args = parser.parse_args()
    main(args.train, args.run)
