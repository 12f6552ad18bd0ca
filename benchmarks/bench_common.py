"""Shared by the benchmark scripts: run a command and measure its wall time and peak memory.

Peak memory is the child's maximum resident set size as the kernel reports it (os.wait4), so
it covers everything the command allocates, Arrow and Polars buffers included.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "buyer-abuse")
OUT = ROOT / "benchmarks" / "out"  # markets and run directories (git-ignored)
RESULTS = ROOT / "benchmarks" / "results"  # the measured figures (committed, quoted in docs/benchmarks.md)


def measure(command: list[str], cwd: Path | None = None, env: dict | None = None) -> dict:
    """Run `command`; return wall seconds and peak RSS in GiB. Raises if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed: {process.stderr.read().strip()}")
    return {"seconds": round(seconds, 1), "peak_gib": round(usage.ru_maxrss / 2**20, 2)}


def median_of(command: list[str], runs: int = 3, **kwargs) -> dict:
    """`measure` `runs` times: the median wall time and peak RSS, and every run's figures."""
    each = [measure(command, **kwargs) for _ in range(runs)]
    return {
        "seconds": statistics.median(r["seconds"] for r in each),
        "peak_gib": statistics.median(r["peak_gib"] for r in each),
        "runs": each,
    }


def market(accounts: int, days: int = 90, seed: int = 1) -> Path:
    """A simulated market, made once and reused by every benchmark."""
    path = OUT / f"market_{accounts}_{days}d_seed{seed}"
    if not (path / "market.json").exists():
        subprocess.run(
            [
                CLI,
                "simulate",
                "--out",
                str(path),
                "--accounts",
                str(accounts),
                "--days",
                str(days),
                "--seed",
                str(seed),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return path


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": sys.version.split()[0],
    }


def save(name: str, result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **result}, indent=2) + "\n")
    print(json.dumps(result, indent=2))
