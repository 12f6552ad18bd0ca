"""Seller exposure quality on simulated markets, through the product's own command line:
`buyer-abuse simulate` → `train` → `run` → `sellers --format json`, then the run's
``seller_cancels.parquet`` and the targeted sellers judged against truth.parquet (which the
pipeline never reads).

* **Abuse-driven cancellation, per cancelled order of the window**: the run says abuse-driven
  (a suspect's cancellation it caused: models.sellers); the truth says so when the buyer is an
  abuser, the order was placed at or after its first abuse, and the cancellation was the
  buyer's doing (cancelled, refused, never paid). Precision and recall, overall and by basis.
* **Corrected seller cancellation rate** against the true rate without abusers (cancellations
  over orders of honest buyers only), for sellers with at least MIN_ORDERS honest orders in the
  window: mean absolute error of the rate as counted, as corrected by the run, and as corrected
  with the truth's own abuse-driven orders (the floor of the formula); and how often the
  corrected rate's 95% Wilson interval holds the true rate.
* **Sabotage targets in the top 10**: a seller is a sabotage target of a seller_sabotage group
  when it took at least TARGET_SHARE of the group's orders, and an active one when the group
  cancelled an order of it in the window. Precision and recall of the run's top 10 targeted
  sellers (`buyer-abuse sellers --top 10`), beside a naive ranking by buyer cancellations.

    .venv/bin/python benchmarks/bench_sellers.py --accounts 8000 --markets default:3 late-ban:4 sparse-noisy:5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from datetime import date, timedelta

import numpy as np
import polars as pl
from bench_common import CLI, OUT, measure, save

from contract.values import BUYER_CAUSED
from features.time import as_of_end
from models.sellers import window_orders

DAYS = 90
START = date(2026, 1, 1)  # the simulator's default start
AS_OF = START + timedelta(days=DAYS - 1)
TOP = 10
MIN_ORDERS = 20  # honest orders in the window for a seller's true rate to mean something
TARGET_SHARE = 0.2  # a seller that took this share of a sabotage group's orders is its target


def simulate(accounts: int, preset: str, seed: int):
    path = OUT / f"sellers_market_{accounts}_{preset}_s{seed}"
    if not (path / "market.json").exists():
        subprocess.run(
            [
                *(CLI, "simulate", "--out", str(path), "--accounts", str(accounts)),
                *("--days", str(DAYS), "--seed", str(seed), "--label-process", preset),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def _precision_recall(predicted: pl.Series, actual: pl.Series) -> dict:
    hits = int((predicted & actual).sum())
    flagged, positives = int(predicted.sum()), int(actual.sum())
    return {
        "flagged": flagged,
        "true": positives,
        "precision": round(hits / flagged, 3) if flagged else None,
        "recall": round(hits / positives, 3) if positives else None,
    }


def judge_orders(cancels: pl.DataFrame, truth: pl.DataFrame) -> dict:
    judged = cancels.join(truth.select("account_id", "is_abuser", "first_abuse_at"), on="account_id", how="left")
    actual = (
        judged["is_abuser"].fill_null(False)
        & (judged["placed_at"] >= judged["first_abuse_at"]).fill_null(False)
        & judged["cancel_initiator"].is_in(BUYER_CAUSED)
    )
    by_basis = {
        basis: _precision_recall(judged["abuse_driven"] & judged[basis], actual)
        for basis in ("confirmed", "queued", "above_cut")
    }
    return {
        "cancelled_orders": judged.height,
        "abuse_driven": _precision_recall(judged["abuse_driven"], actual),
        "by_basis": by_basis,
    }, judged.with_columns(true_abuse=actual)


def judge_rates(window: pl.DataFrame, judged: pl.DataFrame, sellers: pl.DataFrame, truth: pl.DataFrame) -> dict:
    honest = window.join(truth.select("account_id", "is_abuser"), on="account_id", how="left").filter(
        ~pl.col("is_abuser").fill_null(False)
    )
    true_rate = honest.group_by("seller_id").agg(honest_orders=pl.len(), true_rate=pl.col("cancelled").mean())
    oracle = judged.group_by("seller_id").agg(true_abuse=pl.col("true_abuse").sum())
    rows = (
        sellers.join(true_rate, on="seller_id")
        .join(oracle, on="seller_id", how="left")
        .filter(pl.col("honest_orders") >= MIN_ORDERS)
        .with_columns(
            oracle_rate=(pl.col("cancellations") - pl.col("true_abuse")) / (pl.col("orders") - pl.col("true_abuse"))
        )
    )
    error = lambda column: round(float((rows[column] - rows["true_rate"]).abs().mean()), 4)
    hit = rows.filter(pl.col("abuse_cancels") > 0)
    covered = (rows["corrected_rate_low"] <= rows["true_rate"]) & (rows["true_rate"] <= rows["corrected_rate_high"])
    return {
        "sellers": rows.height,
        "mae_as_counted": error("cancel_rate"),
        "mae_corrected": error("corrected_cancel_rate"),
        "mae_oracle_corrected": error("oracle_rate"),
        "sellers_with_abuse": hit.height,
        "mae_as_counted_where_abuse": round(float((hit["cancel_rate"] - hit["true_rate"]).abs().mean()), 4),
        "mae_corrected_where_abuse": round(float((hit["corrected_cancel_rate"] - hit["true_rate"]).abs().mean()), 4),
        "wilson_coverage_corrected": round(float(covered.mean()), 3),
    }


def sabotage_targets(orders: pl.DataFrame, judged: pl.DataFrame, truth: pl.DataFrame) -> set[str]:
    """Sellers that a seller_sabotage group aimed at and cancelled an order of in the window."""
    saboteurs = truth.filter(pl.col("pattern") == "seller_sabotage").select("account_id", "group")
    shares = (
        orders.join(saboteurs, on="account_id")
        .group_by("group", "seller_id")
        .len()
        .with_columns(share=pl.col("len") / pl.col("len").sum().over("group"))
        .filter(pl.col("share") >= TARGET_SHARE)
    )
    active = (
        judged.filter(pl.col("true_abuse"))
        .join(saboteurs, on="account_id")
        .select("group", "seller_id")
        .unique()
        .join(shares.select("group", "seller_id"), on=["group", "seller_id"])
    )
    return set(active["seller_id"])


def judge_targets(top: list[str], naive: list[str], targets: set[str]) -> dict:
    found, naive_found = len(set(top) & targets), len(set(naive) & targets)
    return {
        "active_targets": len(targets),
        "in_top_10": found,
        "precision_at_10": round(found / TOP, 2),
        "recall_at_10": round(found / len(targets), 3) if targets else None,
        "best_possible_recall_at_10": round(min(TOP, len(targets)) / len(targets), 3) if targets else None,
        "naive_in_top_10": naive_found,
        "naive_precision_at_10": round(naive_found / TOP, 2),
    }


def evaluate(accounts: int, preset: str, seed: int) -> dict:
    data = simulate(accounts, preset, seed)
    work = OUT / f"sellers_{accounts}_{preset}_s{seed}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db", "MLFLOW_DISABLE_TELEMETRY": "true"}
    day = AS_OF.isoformat()
    train = measure([CLI, "train", "--data", str(data), "--as-of", day], cwd=work, env=env)
    run = measure([CLI, "run", "--data", str(data), "--as-of", day, "--out", "runs"], cwd=work, env=env)
    shown = subprocess.run(
        [CLI, "sellers", "--as-of", day, "--top", str(TOP), "--format", "json"],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    top = [row["seller_id"] for row in json.loads(shown.stdout)]

    run_dir = work / "runs" / f"as_of={day}"
    truth = pl.read_parquet(data / "truth.parquet")
    orders = pl.read_parquet(data / "orders.parquet")
    cancels = pl.read_parquet(run_dir / "seller_cancels.parquet")
    sellers = pl.read_parquet(run_dir / "sellers.parquet")
    per_order, judged = judge_orders(cancels, truth)
    window = window_orders(orders, as_of_end(AS_OF))
    naive = (
        cancels.filter(pl.col("cancel_initiator") == "buyer")
        .group_by("seller_id")
        .len()
        .sort(["len", "seller_id"], descending=[True, False])
        .head(TOP)["seller_id"]
        .to_list()
    )
    return {
        "accounts": accounts,
        "label_process": preset,
        "seed": seed,
        "as_of": day,
        "suspects": json.loads((run_dir / "summary.json").read_text())["sellers"]["suspects"],
        "per_cancelled_order": per_order,
        "corrected_rate": judge_rates(window, judged, sellers, truth),
        "sabotage_targets": judge_targets(top, naive, sabotage_targets(orders, judged, truth)),
        "train": train,
        "run": run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=8000)
    parser.add_argument(
        "--markets", nargs="+", default=["default:3", "late-ban:4", "sparse-noisy:5"], help="PRESET:SEED ..."
    )
    args = parser.parse_args()
    runs = []
    for market in args.markets:
        preset, seed = market.split(":")
        runs.append(evaluate(args.accounts, preset, int(seed)))
        print(json.dumps(runs[-1]), flush=True)
    summary = {
        "precision": [r["per_cancelled_order"]["abuse_driven"]["precision"] for r in runs],
        "recall": [r["per_cancelled_order"]["abuse_driven"]["recall"] for r in runs],
        "mae_as_counted": [r["corrected_rate"]["mae_as_counted"] for r in runs],
        "mae_corrected": [r["corrected_rate"]["mae_corrected"] for r in runs],
        "targets_in_top_10": [r["sabotage_targets"]["in_top_10"] for r in runs],
    }
    save("sellers", {"days": DAYS, "top": TOP, "min_orders": MIN_ORDERS, "summary": summary, "runs": runs})
    print({k: (v, float(np.mean([x for x in v if x is not None]))) for k, v in summary.items()})


if __name__ == "__main__":
    main()
