"""Feature job speed and memory: `buyer-abuse features` (validation included) on 90-day
markets of each size, whole and in hash buckets.

    .venv/bin/python benchmarks/bench_features.py 100000 300000 1000000
"""

from __future__ import annotations

import sys

import polars as pl
from bench_common import CLI, OUT, market, measure, save

AS_OF = "2026-03-31"  # the last day of a 90-day market starting 2026-01-01


def main(sizes: list[int], buckets: tuple[int, ...] = (1, 4)) -> None:
    rows = []
    for accounts in sizes:
        data = market(accounts)
        orders = pl.scan_parquet(data / "orders.parquet").select(pl.len()).collect().item()
        for b in buckets if accounts == max(sizes) else (1,):
            out = OUT / f"features_{accounts}_b{b}.parquet"
            figures = measure(
                [CLI, "features", "--data", str(data), "--as-of", AS_OF, "--out", str(out), "--buckets", str(b)]
            )
            table = pl.scan_parquet(out).collect_schema()
            rows.append({"accounts": accounts, "orders": orders, "buckets": b, **figures, "columns": len(table)})
            print(rows[-1], flush=True)
    save(
        "features",
        {"runs": rows, "note": "wall time and peak RSS of the whole command: reading, validation, features, write"},
    )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 300_000, 1_000_000])
