"""Feature job speed and memory: `buyer-abuse features` (validation included) on 90-day
markets of each size, whole and in hash buckets, beside the minimal polars reference of its
core subset (benchmarks/reference_features.py) on the same snapshot. Each figure is the
median of `--runs` runs of the whole command, measured from outside.

    .venv/bin/python benchmarks/bench_features.py 100000 300000 1000000 [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl
from bench_common import CLI, OUT, market, median_of, save

AS_OF = "2026-03-31"  # the last day of a 90-day market starting 2026-01-01
REFERENCE = str(Path(__file__).with_name("reference_features.py"))


def main(sizes: list[int], runs: int, buckets: tuple[int, ...] = (1, 4)) -> None:
    rows = []
    for accounts in sizes:
        data = market(accounts)
        orders = pl.scan_parquet(data / "orders.parquet").select(pl.len()).collect().item()
        out = OUT / f"reference_{accounts}.parquet"
        reference = median_of([sys.executable, REFERENCE, str(data), AS_OF, str(out)], runs)
        for b in buckets:
            out = OUT / f"features_{accounts}_b{b}.parquet"
            command = [CLI, "features", "--data", str(data), "--as-of", AS_OF, "--out", str(out), "--buckets", str(b)]
            figures = median_of(command, runs)
            rows.append(
                {
                    "accounts": accounts,
                    "orders": orders,
                    "buckets": b,
                    **figures,
                    "seconds_per_million_orders": round(figures["seconds"] / orders * 1e6, 2),
                    "columns": len(pl.scan_parquet(out).collect_schema()),
                    "reference_seconds": reference["seconds"],
                    "reference_peak_gib": reference["peak_gib"],
                    "times_reference": round(figures["seconds"] / reference["seconds"], 2),
                }
            )
            print({k: v for k, v in rows[-1].items() if k != "runs"}, flush=True)
    note = (
        "wall time and peak RSS of the whole command (reading, validation, features, write), median of "
        f"{runs} runs; reference: benchmarks/reference_features.py on the same snapshot"
    )
    save("features", {"runs": rows, "note": note})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    main(args.sizes, args.runs)
