"""The two engines side by side: `buyer-abuse features --engine local|spark` (validation and the
write included) on 90-day markets of each size, with wall time and peak memory of each part.

    .venv/bin/python benchmarks/bench_engines.py 100000 300000 1000000

Measured from outside the command. `os.wait4` gives the largest peak resident set of any
single process of the command (the kernel's figure). Spark in local mode splits the work
over processes, so the process tree is also sampled every SAMPLE seconds from /proc, each
process filed by its role: the *driver* (the `buyer-abuse` Python process: it reads and
validates the snapshot and collects results), the *JVM* (Spark's driver, and in local mode
its executors too, as threads), the *Python workers* (the processes that run the feature
functions on each group's rows; on a cluster they run on the executors). The peak of each
role's total and of the whole tree are reported; sampling can miss a peak shorter than SAMPLE.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
from bench_common import CLI, OUT, RESULTS, market, save

AS_OF = "2026-03-31"  # the last day of a 90-day market starting 2026-01-01
SAMPLE = 0.25  # seconds between two samples of the process tree
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc (a process that ends meanwhile is skipped)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "driver"
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    return "jvm" if b"java" in command.split(b" ", 1)[0] else "python_workers" if b"python" in command else "other"


def _sample(root: int) -> dict[str, float]:
    """GiB resident now, by role, over `root` and its descendants."""
    tree, found, todo = _children(), {}, [root]
    while todo:
        pid = todo.pop()
        todo.extend(tree.get(pid, []))
        try:
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**30
            role = _role(pid, root)
        except (OSError, IndexError, ValueError):
            continue
        found[role] = found.get(role, 0.0) + rss
    return found


def measure_tree(command: list[str], log: Path) -> dict:
    """Run `command`, its progress into `log`; wall seconds, the kernel's largest single-process
    peak, the sampled peaks of each role and of the whole tree (GiB), and the seconds of each
    stage the command logged. Raises if it fails."""
    start = time.perf_counter()
    with log.open("w") as progress:
        process = subprocess.Popen(command, stdout=progress, stderr=subprocess.PIPE, text=True)
        return _watched(process, start, log)


def _watched(process: subprocess.Popen, start: float, log: Path) -> dict:
    """`measure_tree`'s figures of the running `process`, sampled until it ends."""
    peaks: dict[str, float] = {}
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        now = _sample(process.pid)
        for role, gib in (now | {"tree": sum(now.values())}).items():
            peaks[role] = max(peaks.get(role, 0.0), gib)
        time.sleep(SAMPLE)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(process.args)} failed: {process.stderr.read().strip()}")
    return {
        "seconds": round(seconds, 1),
        "load_1min_after": round(os.getloadavg()[0], 1),  # other work on the machine slows every figure
        "largest_process_gib": round(usage.ru_maxrss / 2**20, 2),
        **{f"peak_{role}_gib": round(gib, 2) for role, gib in sorted(peaks.items())},
        "stages": _stages(log.read_text()),
    }


def _stages(progress: str) -> dict[str, float]:
    """Seconds per stage, from the command's progress lines ("<stage> done in <s> s")."""
    found = re.findall(r" INFO (.+?) done in ([0-9.]+) s$", progress, flags=re.MULTILINE)
    wanted = lambda name: name in ("validate", "features", "write") or name.startswith("spark: ")
    return {name: float(seconds) for name, seconds in found if wanted(name)}


def main(sizes: list[int], engines: tuple[str, ...] = ("local", "spark")) -> None:
    rows = []
    for accounts in sizes:
        data = market(accounts)
        orders = pl.scan_parquet(data / "orders.parquet").select(pl.len()).collect().item()
        for engine in engines:
            out = OUT / f"engines_{accounts}_{engine}.parquet"
            command = [CLI, "features", "--data", str(data), "--as-of", AS_OF, "--out", str(out), "--engine", engine]
            before = {"load_1min_before": round(os.getloadavg()[0], 1)}
            figures = measure_tree(command, out.with_suffix(".log"))
            rows.append({"accounts": accounts, "orders": orders, "engine": engine, **before, **figures})
            print(rows[-1], flush=True)
            # After each run, so that a long series keeps what it measured; sizes measured by an
            # earlier invocation stay in the file.
            save("engines", {"runs": _merged(rows), "note": NOTE})


def _merged(rows: list[dict]) -> list[dict]:
    """`rows`, after the earlier results of the sizes and engines not measured again."""
    path = RESULTS / "engines.json"
    earlier = json.loads(path.read_text())["runs"] if path.exists() else []
    again = {(r["accounts"], r["engine"]) for r in rows}
    kept = [r for r in earlier if (r["accounts"], r["engine"]) not in again]
    return sorted(kept + rows, key=lambda r: (r["accounts"], r["engine"]))


NOTE = (
    "buyer-abuse features (validation and write included), Spark in local mode (local[*], the defaults of "
    "pipeline/spark_session.py): seconds and os.wait4's largest single-process peak; peak_<role>_gib sampled "
    f"every {SAMPLE} s from /proc (driver: the buyer-abuse process; jvm: Spark's driver and executors; "
    "python_workers: the processes running the feature functions; tree: all of them at once)"
)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])
