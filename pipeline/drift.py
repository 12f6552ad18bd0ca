"""The nightly drift check: this run against the previous complete one, column by column
(``models.drift.column_drift``: frequencies for categorical and low-cardinality columns, a
normed Wasserstein distance and the null share for continuous ones).

Each run keeps its comparison in ``drift.parquet`` in its run directory, so the history across
runs is the set of those files (no shared file two runs could write at once), and writes
``drift.html``: this run's comparison and the statistic of each column over the last runs. The
report also goes to MLflow with the run's metrics (``registry.log_nightly``). Drift is best
effort: a previous run that cannot be read is reported, never a reason to fail tonight's run.
"""

from __future__ import annotations

import html
import logging
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from models.drift import DRIFT_THRESHOLD, column_drift
from pipeline import rundirs

log = logging.getLogger("buyer_abuse")

TABLE = "drift.parquet"
REPORT = "drift.html"
HISTORY_RUNS = 30  # runs shown in the report's history
DRIFT_SCHEMA = {
    "as_of": pl.Date,
    "previous_run": pl.String,
    "column": pl.String,
    "kind": pl.String,
    "method": pl.String,
    "statistic": pl.Float64,
    "threshold": pl.Float64,
    "null_share_before": pl.Float64,
    "null_share_after": pl.Float64,
    "drifted": pl.Boolean,
}


def top_features(model, names: list[str], n: int) -> list[str]:
    """The `n` features of the LightGBM model with the largest total gain."""
    gains = model.gain_importance()
    return [names[i] for i in np.argsort(gains)[::-1][:n]]


def nightly_drift(
    runs: Path, as_of: date, scores: pl.DataFrame, features: pl.DataFrame, columns: list[str], out: Path
) -> dict:
    """Compare the score and `columns` of this run with the previous complete run under `runs`;
    write drift.parquet and drift.html into `out` (the run directory being built); return the
    summary entry."""
    previous = rundirs.previous_run(runs, as_of)
    if previous is None:
        _write(out, as_of, pl.DataFrame(schema=DRIFT_SCHEMA), runs, None)
        return {"previous_run": None, "report": REPORT}
    try:
        before = pl.read_parquet(previous / "scores.parquet")
        present = [f for f in columns if f in pl.read_parquet_schema(previous / "features.parquet")]
        before_features = pl.read_parquet(previous / "features.parquet", columns=present)
    except Exception as exc:  # a pruned or unreadable old run must not stop tonight's
        log.warning("drift: previous run %s unreadable (%s)", previous.name, exc)
        return {"previous_run": previous.name, "error": str(exc).splitlines()[0]}
    found = [column_drift("score", before["score"], scores["score"])]
    found += [column_drift(f, before_features[f], features[f]) for f in present]
    table = pl.DataFrame(
        [
            {
                "as_of": as_of,
                "previous_run": previous.name,
                "column": d.column,
                "kind": d.kind,
                "method": d.method,
                "statistic": round(d.statistic, 4),
                "threshold": d.threshold,
                "null_share_before": round(d.null_share_before, 4),
                "null_share_after": round(d.null_share_after, 4),
                "drifted": d.drifted,
            }
            for d in found
        ],
        schema=DRIFT_SCHEMA,
    )
    _write(out, as_of, table, runs, previous.name)
    warnings = [
        f"{d.column}: {d.method} {d.statistic:.2f}, nulls {d.null_share_before:.0%} -> {d.null_share_after:.0%}"
        for d in found
        if d.drifted
    ]
    for warning in warnings:
        log.warning("drift against %s: %s", previous.name, warning)
    return {
        "previous_run": previous.name,
        "threshold": DRIFT_THRESHOLD,
        "columns": {
            row["column"]: {k: row[k] for k in ("kind", "method", "statistic", "drifted")}
            | {"null_share": [row["null_share_before"], row["null_share_after"]]}
            for row in table.iter_rows(named=True)
        },
        "warnings": warnings,
        "not_compared": [f for f in columns if f not in present],
        "report": REPORT,
    }


def history(runs: Path, as_of: date, latest: pl.DataFrame) -> pl.DataFrame:
    """The drift rows of the last HISTORY_RUNS complete runs before `as_of`, plus `latest`."""
    earlier = [r for r in rundirs.complete_runs(runs) if rundirs.run_date(r) < as_of][-HISTORY_RUNS:]
    frames = []
    for run in earlier:
        try:
            frames.append(pl.read_parquet(run / TABLE).select(*DRIFT_SCHEMA).cast(DRIFT_SCHEMA))
        except Exception:  # runs made before drift.parquet existed, or pruned: no history there
            continue
    return pl.concat([*frames, latest.cast(DRIFT_SCHEMA)])


def _write(out: Path, as_of: date, table: pl.DataFrame, runs: Path, previous: str | None) -> None:
    table.write_parquet(out / TABLE)
    (out / REPORT).write_text(report(as_of, previous, table, history(runs, as_of, table)), encoding="utf-8")


def report(as_of: date, previous: str | None, table: pl.DataFrame, past: pl.DataFrame) -> str:
    """A self-contained HTML page: this run's comparison, then each column's statistic over the runs."""
    esc = lambda value: html.escape(str(value))
    if previous is None:
        body = "<p>No previous complete run to compare with.</p>"
    else:
        rows = "".join(
            f"<tr class='{'drift' if r['drifted'] else ''}'><td>{esc(r['column'])}</td><td>{esc(r['kind'])}</td>"
            f"<td>{esc(r['method'])}</td><td>{r['statistic']:.4f}</td><td>{r['null_share_before']:.1%}</td>"
            f"<td>{r['null_share_after']:.1%}</td><td>{'yes' if r['drifted'] else ''}</td></tr>"
            for r in table.iter_rows(named=True)
        )
        body = (
            f"<p>Against {esc(previous)}; a column drifts when its statistic or its change in null share is "
            f"above {DRIFT_THRESHOLD}.</p><table><tr><th>column</th><th>kind</th><th>method</th><th>statistic</th>"
            f"<th>nulls before</th><th>nulls now</th><th>drift</th></tr>{rows}</table>"
        )
    if past.height:
        days = sorted(set(past["as_of"].to_list()))
        cells = {(r["column"], r["as_of"]): r for r in past.iter_rows(named=True)}
        head = "".join(f"<th>{d}</th>" for d in days)
        lines = "".join(
            f"<tr><td>{esc(column)}</td>"
            + "".join(
                f"<td class='{'drift' if cells[column, d]['drifted'] else ''}'>{cells[column, d]['statistic']:.3f}</td>"
                if (column, d) in cells
                else "<td></td>"
                for d in days
            )
            + "</tr>"
            for column in past["column"].unique(maintain_order=True).to_list()
        )
        body += f"<h2>History</h2><table><tr><th>column</th>{head}</tr>{lines}</table>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>buyer-abuse drift {as_of}</title><style>body{{font-family:sans-serif}}"
        "td,th{padding:2px 8px;text-align:right}td:first-child{text-align:left}.drift{background:#f8d0d0}"
        f"</style></head><body><h1>Drift of the run as of {as_of}</h1>{body}</body></html>\n"
    )
