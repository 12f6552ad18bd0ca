"""Where the feature job's time goes: each step of `buyer-abuse features` (in memory) timed
on its own, in one process, on a simulated market: reading and validating each table, the
global context, each per-account family, the joins, entity sharing and rings, the final
table and the write. Peak RSS is the process's so far after each step.

    .venv/bin/python benchmarks/profile_features.py 300000 1000000

Writes benchmarks/results/profile_features.json; docs/benchmarks.md quotes it.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from bench_common import market, save

from features import build
from features.account import account
from features.context import context
from features.entities import account_facts, entities, entity_links, entity_stats, known_abusers
from features.history import history
from features.payments import payments
from features.rings import ring_links, ring_membership, rings
from features.sessions import sessions
from features.sources import present_sources
from pipeline.progress import Stages
from pipeline.snapshot import load_snapshot

AS_OF = "2026-03-31"


def profile(data: Path) -> dict:
    steps: dict[str, dict] = {}

    @contextmanager
    def step(name: str):
        start = time.perf_counter()
        yield
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        steps[name] = {"seconds": round(time.perf_counter() - start, 2), "peak_gib_so_far": round(peak, 2)}

    validation = Stages()
    with step("validate"):
        s = load_snapshot(data, stages=validation).snapshot
    t = build.as_of_instant(date.fromisoformat(AS_OF))
    tables = {"accounts": s.accounts, "orders": s.orders, "payment_attempts": s.payment_attempts}
    view = build.point_in_time(tables | {"sessions": s.sessions, "labels": s.labels}, t)
    with step("global context"):
        ctx = build.global_context(view["orders"])
    with step("history"):
        parts = history(view["orders"], ctx.campaigns, t)
    with step("payments"):
        paid = payments(view["payment_attempts"], t)
    with step("sessions"):
        logins = sessions(view["sessions"], t)
    with step("context"):
        near = context(view["orders"], ctx.campaigns, ctx.regions, ctx.sellers)
    with step("per-account joins"):
        parts = parts.join(paid, on="account_id", how="full", coalesce=True)
        parts = parts.join(logins, on="account_id", how="full", coalesce=True).join(near, on="account_id", how="left")
    accounts = view["accounts"].collect()
    labels = view["labels"].collect()
    with step("entity links"):
        facts = account_facts(accounts, parts, known_abusers(labels, accounts, t), t)
        links = entity_links(view)
    with step("entity sharing"):
        stats = entity_stats(links, facts)
        sharing = entities(links, stats, facts)
    with step("rings"):
        strong = ring_links(links, stats)
        ring = rings(ring_membership(accounts, strong), facts, links, strong)
    with step("final table"):
        table = build.feature_table(account(accounts, t), parts, sharing, ring, present_sources(view))
    with step("write"), tempfile.TemporaryDirectory() as tmp:
        table.write_parquet(Path(tmp) / "features.parquet")
    return {
        "steps": steps,
        "validation": validation.seconds,
        "total_seconds": round(sum(v["seconds"] for v in steps.values()), 1),
    }


def main(sizes: list[int]) -> None:
    rows = []
    for accounts in sizes:
        rows.append({"accounts": accounts, **profile(market(accounts))})
        print(rows[-1], flush=True)
    save("profile_features", {"runs": rows, "note": "each step of the in-memory feature job timed in one process"})


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [300_000, 1_000_000])
