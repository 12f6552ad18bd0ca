"""Model quality across label processes and seeds, as a user runs it: `buyer-abuse simulate`
(every pattern's parameters drawn around the documented ones, `--variation`), `buyer-abuse
train`, `buyer-abuse run` on the market's last day, then the run's scores judged against
truth.parquet (which the pipeline never reads).

For each market it reports, from the run's own scored population less the accounts with an
abuse label in force (what the queue can hold):

* ``precision_at_k``: k = the true abusers in that population (so it is also recall at k), for
  the model and each naive baseline (models.evaluate), and the model's lift over the best one;
* ``precision_at_capacity``: the share of true abusers in the queue (the review capacity);
* ``average_precision`` of the model's scores against the truth;
* ``backtest_precision_at_k``: what the model claimed in its own backtest (the MLflow training
  run's headline figure), beside the truth-judged figure, and the gap between them;
* recall per pattern at k, and the number of queued accounts that share a score.

    .venv/bin/python benchmarks/bench_quality.py --accounts 50000 --seeds 3 4 5 \
        --presets default early-no-ban late-ban chargeback
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import polars as pl
from bench_common import CLI, OUT, RESULTS, measure, save
from mlflow.tracking import MlflowClient
from sklearn.metrics import average_precision_score

from pipeline import analysis

CAPACITY = 200  # the review capacity of the default settings
VARIATION = 0.3


def simulate(accounts: int, seed: int, preset: str, variation: float) -> tuple:
    path = OUT / f"quality_market_{accounts}_{preset}_v{variation}_s{seed}"
    if not (path / "market.json").exists():
        command = [CLI, "simulate", "--out", str(path), "--accounts", str(accounts), "--days", "90"]
        command += ["--seed", str(seed), "--label-process", preset, "--variation", str(variation)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    config = json.loads((path / "market.json").read_text())["config"]
    last_day = date.fromisoformat(config["start"]) + timedelta(days=config["days"] - 1)
    return path, last_day.isoformat()


def evaluate(accounts: int, seed: int, preset: str, variation: float) -> dict:
    data, as_of = simulate(accounts, seed, preset, variation)
    work = OUT / f"quality_{accounts}_{preset}_v{variation}_s{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    store = f"sqlite:///{work}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    train = measure([CLI, "train", "--data", str(data), "--as-of", as_of], cwd=work, env=env)
    run = measure([CLI, "run", "--data", str(data), "--as-of", as_of, "--out", "runs"], cwd=work, env=env)

    labels = analysis.labels_at(data, f"sqlite:///{work / 'review.db'}", as_of)
    population = analysis.ranked_population(data, work / "runs" / f"as_of={as_of}", labels)
    truth = analysis.truth(data)
    k = analysis.abusers_to_find(population, truth)
    recall = analysis.pattern_recall(population, truth, labels, k)
    overall = recall[recall["pattern"] == "all abuse"].set_index("ranker")["recall"]
    is_abuser = population["account_id"].isin(truth.loc[truth["is_abuser"], "account_id"]).to_numpy()
    queued = population.head(CAPACITY)
    claimed = _backtest(store)
    model = float(overall["model"])
    best_baseline = max(v for r, v in overall.items() if r != "model")
    return {
        "preset": preset,
        "seed": seed,
        "accounts": accounts,
        "variation": variation,
        "k": k,
        "population": len(population),
        "precision_at_k": {r: round(float(v), 3) for r, v in overall.items()},
        "lift_over_best_baseline": round(model / best_baseline, 2) if best_baseline else None,
        "precision_at_capacity": round(float(is_abuser[:CAPACITY].mean()), 3),
        "average_precision": round(float(average_precision_score(is_abuser, population["score"])), 3),
        "backtest_precision_at_k": round(claimed, 3),
        "backtest_gap": round(claimed - model, 3),
        "queued_sharing_a_score": int(pl.Series(queued["score"]).is_duplicated().sum()),
        "recall_by_pattern": {
            p: round(float(r), 3)
            for p, r in recall[recall["ranker"] == "model"].set_index("pattern")["recall"].items()
            if p != "all abuse"
        },
        "train": train,
        "run": run,
    }


def _backtest(store: str) -> float:
    """The headline backtest figure the training run logged."""
    client = MlflowClient(tracking_uri=store)
    runs = client.search_runs(
        [client.get_experiment_by_name("buyer-abuse").experiment_id], "attributes.run_name LIKE 'train%'"
    )
    return runs[0].data.metrics.get("backtest_precision_at_k", float("nan"))


def summary(runs: list[dict]) -> dict:
    by_preset: dict[str, list[dict]] = {}
    for r in runs:
        by_preset.setdefault(r["preset"], []).append(r)
    mean = lambda rows, key: round(float(np.mean([f(r) for r in rows for f in [key]])), 3)
    per = {
        preset: {
            "precision_at_k": mean(rows, lambda r: r["precision_at_k"]["model"]),
            "min_precision_at_k": round(min(r["precision_at_k"]["model"] for r in rows), 3),
            "precision_at_capacity": mean(rows, lambda r: r["precision_at_capacity"]),
            "average_precision": mean(rows, lambda r: r["average_precision"]),
            "backtest_precision_at_k": mean(rows, lambda r: r["backtest_precision_at_k"]),
            "max_abs_backtest_gap": round(max(abs(r["backtest_gap"]) for r in rows), 3),
            "min_lift_over_best_baseline": min(r["lift_over_best_baseline"] or 0 for r in rows),
        }
        for preset, rows in by_preset.items()
    }
    return {"per_preset": per, "mean_precision_at_k": mean(runs, lambda r: r["precision_at_k"]["model"])}


def markdown(result: dict) -> str:
    """The tables of docs/benchmarks.md from a results file."""
    lines = [
        "| label process | seed | k | P@k model | P@k best baseline | lift | P@capacity | AP | backtest P@k | gap | ties in queue |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["runs"]:
        baseline = max(v for name, v in r["precision_at_k"].items() if name != "model")
        lines.append(
            f"| {r['preset']} | {r['seed']} | {r['k']:,} | **{r['precision_at_k']['model']:.3f}** | {baseline:.3f} "
            f"| {r['lift_over_best_baseline']:.1f}x | {r['precision_at_capacity']:.3f} | {r['average_precision']:.3f} "
            f"| {r['backtest_precision_at_k']:.3f} | {r['backtest_gap']:+.3f} | {r['queued_sharing_a_score']} |"
        )
    lines += [
        "",
        "| label process | mean P@k | min P@k | mean backtest P@k | largest gap | least lift |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for preset, p in result["per_preset"].items():
        lines.append(
            f"| {preset} | {p['precision_at_k']:.3f} | {p['min_precision_at_k']:.3f} | {p['backtest_precision_at_k']:.3f} "
            f"| {p['max_abs_backtest_gap']:.3f} | {p['min_lift_over_best_baseline']:.1f}x |"
        )
    lines.append(f"| **all** | **{result['mean_precision_at_k']:.3f}** | | | | |")
    patterns = sorted({p for r in result["runs"] for p in r["recall_by_pattern"]})
    lines += ["", "| pattern | " + " | ".join(f"{r['preset']} {r['seed']}" for r in result["runs"]) + " |"]
    lines.append("|---|" + "---:|" * len(result["runs"]))
    for pattern in patterns:
        cells = " | ".join(f"{r['recall_by_pattern'].get(pattern, float('nan')):.2f}" for r in result["runs"])
        lines.append(f"| {pattern} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--presets", nargs="+", default=["default", "early-no-ban", "late-ban", "chargeback"])
    parser.add_argument("--variation", type=float, default=VARIATION)
    parser.add_argument("--name", default="quality", help="results file: benchmarks/results/NAME.json")
    parser.add_argument(
        "--report", action="store_true", help="print the results file's tables as Markdown; run nothing"
    )
    args = parser.parse_args()
    if args.report:
        print(markdown(json.loads((RESULTS / f"{args.name}.json").read_text())))
        return
    runs = []
    command = " ".join(["bench_quality.py", *sys.argv[1:]])
    for seed in args.seeds:  # seed by seed, so that a stopped grid has whole rows of presets
        for preset in args.presets:
            runs.append(evaluate(args.accounts, seed, preset, args.variation))
            print(json.dumps(runs[-1]), flush=True)
            save(args.name, {"command": command, "runs": runs, **summary(runs)})


if __name__ == "__main__":
    main()
