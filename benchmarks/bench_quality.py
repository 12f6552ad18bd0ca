"""Model quality on simulated markets, as the CLI does it: `buyer-abuse train` then
`buyer-abuse run` on the market's last day, then the run's scores judged against truth.parquet
(which the pipeline never reads).

k is the number of unlabelled abusers the run could queue (scored accounts without an abuse
label in force), so precision at k is also recall at k. The naive baselines rank the same
accounts (models.evaluate: buyer cancels in the last 60 days; overall cancel rate).

    .venv/bin/python benchmarks/bench_quality.py --accounts 50000 --seeds 3 4 5
"""

from __future__ import annotations

import argparse
import os
import shutil

from bench_common import CLI, OUT, market, measure, save

from pipeline import analysis

AS_OF = "2026-03-31"


def evaluate(accounts: int, seed: int) -> dict:
    data = market(accounts, seed=seed)
    work = OUT / f"quality_{accounts}_seed{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db"}
    train = measure([CLI, "train", "--data", str(data), "--as-of", AS_OF], cwd=work, env=env)
    run = measure([CLI, "run", "--data", str(data), "--as-of", AS_OF, "--out", "runs"], cwd=work, env=env)

    review = f"sqlite:///{work / 'review.db'}"
    labels = analysis.labels_at(data, review, AS_OF)
    population = analysis.ranked_population(data, work / "runs" / f"as_of={AS_OF}", labels)
    truth = analysis.truth(data)
    k = analysis.abusers_to_find(population, truth)
    recall = analysis.pattern_recall(population, truth, labels, k)
    lookalikes = analysis.lookalike_fp_share(population, truth, labels, k)
    overall = recall[recall["pattern"] == "all abuse"].set_index("ranker")["recall"]
    at_200 = analysis.pattern_recall(population, truth, labels, 200)
    found_200 = at_200[at_200["pattern"] == "all abuse"].set_index("ranker")["found"] / 200
    model = overall["model"]
    best_baseline = max(v for r, v in overall.items() if r != "model")
    return {
        "accounts": accounts,
        "seed": seed,
        "k": k,
        "scored_without_abuse_label": len(population),
        "precision_at_k": {r: round(v, 3) for r, v in overall.items()},
        "lift_over_best_baseline": round(model / best_baseline, 2) if best_baseline else None,
        "precision_at_200": {r: round(v, 3) for r, v in found_200.items()},
        "recall_by_pattern": {
            p: round(r, 3) for p, r in recall[recall["ranker"] == "model"].set_index("pattern")["recall"].items()
        },
        "false_positive_share_by_group": {
            g: {"accounts": int(row.accounts), "flagged": int(row.flagged), "share": round(row.share, 4)}
            for g, row in lookalikes[lookalikes["ranker"] == "model"].set_index("group").iterrows()
        },
        "train": train,
        "run": run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 4, 5])
    args = parser.parse_args()
    runs = []
    for seed in args.seeds:
        runs.append(evaluate(args.accounts, seed))
        print(runs[-1], flush=True)
    save("quality", {"runs": runs})


if __name__ == "__main__":
    main()
