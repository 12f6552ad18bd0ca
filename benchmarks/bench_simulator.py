"""Simulator speed and memory: `buyer-abuse simulate` at each size, 90 days.

.venv/bin/python benchmarks/bench_simulator.py 100000 1000000
"""

from __future__ import annotations

import json
import shutil
import sys

from bench_common import CLI, OUT, measure, save


def main(sizes: list[int]) -> None:
    rows = []
    for accounts in sizes:
        out = OUT / f"simulate_{accounts}"
        shutil.rmtree(out, ignore_errors=True)
        figures = measure(
            [CLI, "simulate", "--out", str(out), "--accounts", str(accounts), "--days", "90", "--seed", "1"]
        )
        counts = json.loads((out / "market.json").read_text())["rows"]
        rows.append(
            {
                "accounts": accounts,
                "days": 90,
                **figures,
                "orders": counts["orders"],
                "payment_attempts": counts["payment_attempts"],
                "sessions": counts["sessions"],
            }
        )
        shutil.rmtree(out)
    save("simulator", {"runs": rows})


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
