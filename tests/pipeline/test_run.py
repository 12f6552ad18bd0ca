"""`buyer-abuse run` and `backfill` end to end on a small simulated market, with a champion trained
once per session: the scores file and the review queue, re-runs, verdicts, crashes, locks, an
unreachable database and the run summary, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
import socket
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa
from e2e import AS_OF, Champion, invoke, one_line, settings_in, use_store
from filelock import FileLock
from mlflow.tracking import MlflowClient
from pandas.testing import assert_frame_equal

import pipeline.registry
import pipeline.run
import pipeline.train
from features.catalogue import lookup
from features.columns import COUNTS, Unit
from features.labels import labels_in_force
from features.time import as_of_end
from models.drift import DRIFT_THRESHOLD
from pipeline import review_db
from pipeline.errors import EX_CONFIG, EX_TEMPFAIL, EX_USAGE
from pipeline.review_db import connect, read_queue, record_verdict
from pipeline.run import DRIFT_FEATURES, RunLocked, backfill, run
from pipeline.rundirs import is_complete
from pipeline.settings import DEFAULT_CAPACITY, Settings

pytestmark = pytest.mark.slow

# A day whose verdicts, recorded the next morning, fall on the training side of the gap when
# training as of AS_OF (decided before AS_OF + 1 day - 28 days).
EARLY = date(2026, 2, 4)
DAY = timedelta(days=1)
STAGES = ["connect", "champion", "validate", "features", "score", "sellers", "write outputs", "review table"]
LOG = logging.getLogger("buyer_abuse")


@pytest.fixture
def workdir(champion: Champion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's working directory (default review.db and runs/), scoring with the module's champion."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.uri)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def settings(workdir: Path, champion: Champion) -> Settings:
    """The default settings of the test's working directory, scoring with the module's champion."""
    return settings_in(workdir, tracking_uri=champion.uri)


def batch(settings: Settings, market: Path, day: date, url: str | None, out: Path, capacity: int = 30) -> dict:
    changes = {"runs": out, "capacity": capacity} | ({} if url is None else {"review_db": url})
    return run(market, day, replace(settings, **changes))


def morning_after(day: date) -> datetime:
    """When an analyst works through the queue of `day`: 09:00 UTC the next day."""
    return as_of_end(day) + timedelta(hours=9)


def active_accounts(market: Path, day: date) -> set[str]:
    """Accounts with an order, a payment attempt or a session in the 90 days before the end of `day`, from the raw tables."""
    t = as_of_end(day)
    orders = pl.read_parquet(market / "orders.parquet")
    attempts = pl.read_parquet(market / "payment_attempts.parquet").join(
        orders.select("order_id", "account_id"), on="order_id"
    )
    sessions = pl.read_parquet(market / "sessions.parquet")
    recent = lambda frame, column: frame.filter(pl.col(column).is_between(t - 90 * DAY, t, closed="left"))
    return (
        set(recent(orders, "placed_at")["account_id"])
        | set(recent(attempts, "attempted_at")["account_id"])
        | set(recent(sessions, "started_at")["account_id"])
    )


def confirmed_in_snapshot(market: Path, day: date) -> set[str]:
    in_force = labels_in_force(pl.read_parquet(market / "labels.parquet"), as_of_end(day))
    return set(in_force.filter(pl.col("label") == "abuse")["account_id"])


def scores_of(out: Path, day: date) -> pl.DataFrame:
    return pl.read_parquet(out / f"as_of={day}" / "scores.parquet")


def summary_of(out: Path, day: date) -> dict:
    return json.loads((out / f"as_of={day}" / "summary.json").read_text())


# -- the batch scores every active account and queues the top with reasons --------------------


def test_run_scores_every_active_account_and_queues_the_top_with_reasons(market, workdir, settings):
    summary = batch(settings, market, AS_OF, None, workdir / "runs", DEFAULT_CAPACITY)  # the default review database

    run_dir = workdir / "runs" / f"as_of={AS_OF}"
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "drift.html",
        "drift.parquet",
        "features.parquet",
        "queue.parquet",
        "rejects.parquet",
        "scores.parquet",
        "seller_cancels.parquet",
        "sellers.parquet",
        "summary.json",
    ]
    scores = pl.read_parquet(run_dir / "scores.parquet")
    assert scores.schema == pl.Schema({"account_id": pl.String, "score": pl.Float64, "rank": pl.Int64})
    assert scores["rank"].to_list() == list(range(1, scores.height + 1))
    assert scores["score"].is_sorted(descending=True)
    assert scores["score"].is_between(0, 1).all()
    assert set(scores["account_id"]) == active_accounts(market, AS_OF)
    assert scores["account_id"].is_unique().all()

    queue = read_queue(connect(settings_in(workdir).review_db), AS_OF)
    confirmed = confirmed_in_snapshot(market, AS_OF)
    assert summary["model"] == "buyer-abuse/1"
    assert len(queue) == summary["queued"] == DEFAULT_CAPACITY
    # The most suspicious accounts not already confirmed, ranked 1..capacity, with their score in this run.
    assert queue["account_id"].tolist() == [a for a in scores["account_id"] if a not in confirmed][:DEFAULT_CAPACITY]
    assert queue["rank"].tolist() == list(range(1, DEFAULT_CAPACITY + 1))
    in_file = queue.merge(scores.to_pandas(), on="account_id", suffixes=("", "_file"))
    assert (in_file["rank"] <= in_file["rank_file"]).all()  # scores.parquet ranks every account, confirmed too
    assert np.allclose(in_file["score"], in_file["score_file"])
    assert set(queue["model_version"]) == {"buyer-abuse/1"}
    assert set(queue["status"]) == {"open"}
    for text in queue["reasons"]:
        reasons = json.loads(text)
        assert reasons and all(r["text"] and r["contribution"] > 0 for r in reasons if r["feature"] != "ring_evidence")
        check_reason_rules(reasons, AS_OF)


def check_reason_rules(reasons: list[dict], day: date) -> None:
    """docs/model.md, "Scoring and reasons": never an unknown value, the most extreme first,
    values in a person's units, the run's date instead of t."""
    features = [r for r in reasons if r["feature"] != "ring_evidence"]
    assert all(r["value"] is not None and r["percentile"] is not None for r in features), reasons
    extremeness = [abs(r["percentile"] - 50) for r in features]
    assert extremeness == sorted(extremeness, reverse=True), reasons
    for r in reasons:
        text = r["text"]
        assert not re.search(r"\b(nan|None|unknown|inf)\b", text), text
        assert not re.search(r"\d[eE][+-]?\d", text), text  # no e-notation
        assert not re.search(r"\bt\b", text), text  # the run's date, not t
        feature = lookup(r["feature"])
        if feature is not None and feature.unit in COUNTS:
            shown = text.rsplit(": ", 1)[1].split(" (")[0]
            assert re.fullmatch(r"[0-9,]+", shown), text  # counts as integers
        if feature is not None and feature.unit == Unit.MINUTES:
            assert (
                not re.search(r": [0-9,.]+ minutes", text)
                or float(re.search(r": ([0-9,.]+) minutes", text)[1].replace(",", "")) < 60
            ), text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f.drop("account_age_days"), "missing account_age_days"),
        (lambda f: f.with_columns(pl.col("phone_verified").cast(pl.Int64)), "phone_verified is Int64 not Float64"),
    ],
    ids=["missing", "retyped"],
)
def test_a_feature_table_unlike_the_models_signature_is_refused(market, workdir, monkeypatch, change, reason):
    real = pipeline.run.build_local
    monkeypatch.setattr(pipeline.run, "build_local", lambda *a, **k: change(real(*a, **k)))

    code, _, err = invoke("run", "--data", market, "--as-of", AS_OF, "--out", workdir / "runs")

    assert code == EX_CONFIG
    assert one_line(err) == f"feature table does not match the model's signature: {reason} (model buyer-abuse/1)"
    assert [p.name for p in (workdir / "runs").iterdir() if not p.name.endswith(".lock")] == []
    assert read_queue(connect(settings_in(workdir).review_db)).empty


# -- re-runs, verdicts, crashes, locks, backfill, summary --------------------------------------


def test_a_rerun_replaces_scores_but_keeps_every_verdict_and_note(market, workdir, review_url, settings):
    out = workdir / "runs"
    batch(settings, market, EARLY, review_url, out, capacity=30)
    engine = connect(review_url)
    first = read_queue(engine, EARLY)
    top, second, beyond = first["account_id"][0], first["account_id"][1], first["account_id"][24]
    record_verdict(
        engine, top, EARLY, "confirmed_abuse", "ana", note="ring of resellers", reviewed_at=morning_after(EARLY)
    )
    record_verdict(
        engine, second, EARLY, "cleared", "bo", note="customs holds, not abuse", reviewed_at=morning_after(EARLY)
    )
    record_verdict(
        engine, beyond, EARLY, "escalated", "ana", note="ask the payments team", reviewed_at=morning_after(EARLY)
    )
    decided = [top, second, beyond]
    verdict_columns = ["status", "reviewed_by", "reviewed_at", "note"]
    verdicts = read_queue(engine, EARLY).set_index("account_id").loc[decided, verdict_columns]
    # Scores a different model left behind, which the re-run must replace.
    with engine.begin() as conn:
        conn.execute(sa.update(review_db.review_queue).values(score=0.0, model_version="buyer-abuse/0"))

    summary = batch(settings, market, EARLY, review_url, out, capacity=20)

    again = read_queue(engine, EARLY)
    # The new top 20, plus the escalated account beyond it: a row an analyst touched is never deleted.
    assert set(again["account_id"]) == set(first["account_id"][:20]) | {beyond}
    requeued = again[again["account_id"] != beyond].merge(
        scores_of(out, EARLY).to_pandas(), on="account_id", suffixes=("", "_run")
    )
    assert len(requeued) == summary["queued"] == 20
    assert np.allclose(requeued["score"], requeued["score_run"])
    by_rank = requeued.sort_values("rank")
    assert by_rank["rank"].tolist() == list(range(1, 21)) and by_rank["score"].is_monotonic_decreasing
    assert set(requeued["model_version"]) == {"buyer-abuse/1"}
    # The escalated account kept beyond the queue is refreshed too: this run's score and model,
    # and its rank among the accounts that could be queued (so no rank is used twice).
    kept = again.set_index("account_id").loc[beyond]
    new_score = scores_of(out, EARLY).filter(pl.col("account_id") == beyond)["score"].item()
    assert kept["score"] == pytest.approx(new_score) and kept["model_version"] == "buyer-abuse/1"
    assert kept["rank"] > 20 and summary["kept_for_analysts"] == 1
    assert_frame_equal(again.set_index("account_id").loc[decided, verdict_columns], verdicts)
    assert verdicts["note"].tolist() == ["ring of resellers", "customs holds, not abuse", "ask the payments team"]
    assert set(again.loc[~again["account_id"].isin(decided), "status"]) == {"open"}

    # The seller exposure of the date is the re-run's, exactly, in the run directory and the table.
    run_dir = out / f"as_of={EARLY}"
    sellers = pl.read_parquet(run_dir / "sellers.parquet")
    table = review_db.read_seller_exposure(engine, EARLY)
    assert table["seller_id"].tolist() == sellers["seller_id"].to_list()
    assert table["abuse_cancels"].tolist() == sellers["abuse_cancels"].to_list()
    assert sellers["abuse_cancels"].sum() > 0
    # Verdicts recorded the morning after the as-of are not in force at it: nobody is confirmed
    # by them, and the cleared account is still a suspect (it is queued).
    cancels = pl.read_parquet(run_dir / "seller_cancels.parquet")
    decided_rows = cancels.filter(pl.col("account_id").is_in([top, second]))
    assert not decided_rows["confirmed"].any()
    assert decided_rows.filter(pl.col("account_id") == second)["queued"].all()
    engine.dispose()


def test_a_confirmed_account_is_not_queued_again_the_next_day(market, workdir, review_url, settings):
    out = workdir / "runs"
    batch(settings, market, EARLY, review_url, out, capacity=30)
    engine = connect(review_url)
    first = read_queue(engine, EARLY)
    confirmed, cleared = first["account_id"][0], first["account_id"][1]
    record_verdict(engine, confirmed, EARLY, "confirmed_abuse", "ana", reviewed_at=morning_after(EARLY))
    record_verdict(engine, cleared, EARLY, "cleared", "ana", reviewed_at=morning_after(EARLY))

    summary = batch(settings, market, EARLY + DAY, review_url, out, capacity=30)

    next_queue = read_queue(engine, EARLY + DAY)
    ranks = dict(scores_of(out, EARLY + DAY).select("account_id", "rank").iter_rows())
    assert ranks[confirmed] <= 30  # still scored, high enough to be queued ...
    assert confirmed not in set(next_queue["account_id"])  # ... but not queued again
    assert cleared in set(next_queue["account_id"])  # a cleared account is not exempt
    assert len(next_queue) == summary["queued"] == 30
    assert summary["already_confirmed_excluded"] == len(confirmed_in_snapshot(market, EARLY + DAY) & set(ranks)) + 1
    assert read_queue(engine, EARLY).set_index("account_id").loc[confirmed, "status"] == "confirmed_abuse"
    engine.dispose()


def test_the_next_training_learns_from_the_verdicts(market, workdir, review_url, champion, monkeypatch, settings):
    batch(settings, market, EARLY, review_url, workdir / "runs", capacity=30)
    engine = connect(review_url)
    ever_labelled = set(pl.read_parquet(market / "labels.parquet")["account_id"])
    unlabelled = [a for a in read_queue(engine, EARLY)["account_id"] if a not in ever_labelled][:3]
    verdicts = dict(zip(unlabelled, ["confirmed_abuse", "confirmed_abuse", "cleared"], strict=True))
    for account, status in verdicts.items():
        record_verdict(engine, account, EARLY, status, "ana", reviewed_at=morning_after(EARLY))
    engine.dispose()
    seen = []
    real = pipeline.train.draw_examples
    monkeypatch.setattr(pipeline.train, "draw_examples", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1])
    uri = use_store(monkeypatch, workdir)  # a registry of its own: the module's champion stays as it is

    code, _, err = invoke("train", "--data", market, "--as-of", AS_OF, "--review-db", review_url)

    assert (code, err) == (0, "")  # MLflow's own progress lines go to stdout too
    final = seen[0].filter(pl.col("account_id").is_in(unlabelled))  # the first draw: the final fit's, at T
    assert set(final["account_id"]) == set(unlabelled)
    for account, status in verdicts.items():
        mine = final.filter(pl.col("account_id") == account)
        assert set(mine["y"]) == {int(status == "confirmed_abuse")}, account
        assert mine["labelled"].all() and set(mine["decided_at"]) == {morning_after(EARLY)}
        assert as_of_end(EARLY) in mine["cutoff"].to_list()  # drawn where it was scored, with its verdict
    client = MlflowClient(tracking_uri=uri)
    (logged,) = client.search_runs([client.get_experiment_by_name("buyer-abuse").experiment_id])
    before = MlflowClient(tracking_uri=champion.uri).get_run(champion.trained.run_id).data.params
    assert int(logged.data.params["train_abuse_accounts"]) == int(before["train_abuse_accounts"]) + 2


def crash(*args: object, **kwargs: object) -> None:
    raise RuntimeError("killed")


CRASHES = {
    "building features": lambda mp: mp.setattr(pipeline.run, "build_local", crash),
    # after the new rows are upserted, inside the transaction: the whole write rolls back
    "writing the review table": lambda mp: mp.setattr(review_db, "_delete_stale", crash),
    # after the review table is committed, before the run directory moves into place
    "moving the run directory": lambda mp: mp.setattr(pipeline.run, "_replace", crash),
}


@pytest.mark.parametrize("stage", CRASHES)
def test_a_run_killed_midway_leaves_the_previous_run_and_the_next_run_completes(
    market, workdir, review_url, stage, settings
):
    out = workdir / "runs"
    run_dir = out / f"as_of={EARLY}"
    batch(settings, market, EARLY, review_url, out, capacity=30)
    engine = connect(review_url)
    account = read_queue(engine, EARLY)["account_id"][0]
    record_verdict(engine, account, EARLY, "escalated", "ana", note="look again", reviewed_at=morning_after(EARLY))
    table_before = read_queue(engine)
    files_before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    with pytest.MonkeyPatch.context() as mp:
        CRASHES[stage](mp)
        with pytest.raises(RuntimeError, match="killed"):
            batch(settings, market, EARLY, review_url, out, capacity=20)

    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == files_before
    if stage == "moving the run directory":  # the table was already committed: the new queue, whole
        assert len(read_queue(engine, EARLY)) == 20
    else:
        assert_frame_equal(read_queue(engine), table_before)

    batch(settings, market, EARLY, review_url, out, capacity=20)

    assert summary_of(out, EARLY)["queued"] == 20
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no partial or old directory left
    # The same review table and scores as a run that was never interrupted.
    reference_url, reference_out = f"sqlite:///{workdir / 'reference.db'}", workdir / "reference"
    batch(settings, market, EARLY, reference_url, reference_out, capacity=30)
    reference = connect(reference_url)
    record_verdict(reference, account, EARLY, "escalated", "ana", note="look again", reviewed_at=morning_after(EARLY))
    batch(settings, market, EARLY, reference_url, reference_out, capacity=20)
    assert_frame_equal(read_queue(engine), read_queue(reference))
    assert scores_of(out, EARLY).equals(scores_of(reference_out, EARLY))
    engine.dispose()
    reference.dispose()


def test_a_second_run_for_the_same_date_is_refused(market, workdir, settings):
    out = workdir / "runs"
    out.mkdir()
    held = FileLock(str(out / f"as_of={AS_OF}.lock"))

    with held.acquire(timeout=0):
        with pytest.raises(RunLocked, match=f"^another run for {AS_OF} is in progress"):
            batch(settings, market, AS_OF, None, out, DEFAULT_CAPACITY)
        code, _, err = invoke("run", "--data", market, "--as-of", AS_OF, "--out", out)
        assert code == EX_TEMPFAIL
        assert one_line(err).startswith(f"another run for {AS_OF} is in progress")
        assert held.is_locked
        assert not (out / f"as_of={AS_OF}").exists()
        assert not (workdir / "review.db").exists()  # refused before touching the database
        batch(settings, market, AS_OF - DAY, None, out, DEFAULT_CAPACITY)  # another date is not held up
        assert is_complete(out / f"as_of={AS_OF - DAY}")

    batch(settings, market, AS_OF, None, out, DEFAULT_CAPACITY)
    assert is_complete(out / f"as_of={AS_OF}")


def test_backfill_runs_each_date_once_and_force_runs_again(market, workdir, review_url, settings):
    out = workdir / "runs"
    days = [AS_OF - 6 * DAY + i * DAY for i in range(7)]
    ran = backfill(market, days[0], days[-1], replace(settings, runs=out, review_db=review_url, capacity=20))

    assert ran == [(day, "ran") for day in days]
    assert all(is_complete(out / f"as_of={day}") for day in days)
    engine = connect(review_url)
    assert read_queue(engine).groupby("as_of").size().to_dict() == dict.fromkeys(days, 20)
    engine.dispose()
    stamps = {day: (out / f"as_of={day}" / "summary.json").stat().st_mtime_ns for day in days}
    options = ["--data", market, "--out", out, "--review-db", review_url, "--capacity", 20]

    code, stdout, err = invoke("backfill", "--from", days[0], "--to", days[-1], *options)
    assert (code, err) == (0, "")
    assert [line for line in stdout.splitlines() if line.endswith(("  ran", "  skipped"))] == [
        f"{d}  skipped" for d in days
    ]
    assert {day: (out / f"as_of={day}" / "summary.json").stat().st_mtime_ns for day in days} == stamps

    code, stdout, err = invoke("backfill", "--from", days[-2], "--to", days[-1], "--force", *options)
    assert (code, err) == (0, "")
    assert [line for line in stdout.splitlines() if line.endswith(("  ran", "  skipped"))] == [
        f"{d}  ran" for d in days[-2:]
    ]
    now = {day: (out / f"as_of={day}" / "summary.json").stat().st_mtime_ns for day in days}
    assert [day for day in days if now[day] != stamps[day]] == days[-2:]


def test_backfill_refuses_a_range_that_ends_before_it_starts(market, workdir):
    code, _, err = invoke("backfill", "--data", market, "--from", AS_OF, "--to", AS_OF - DAY)

    assert code == EX_USAGE
    assert one_line(err) == f"--to {AS_OF - DAY} is before --from {AS_OF}"


def test_an_unreachable_review_database_fails_in_one_line_and_writes_nothing(market, workdir):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"

    code, _, err = invoke("run", "--data", market, "--as-of", AS_OF, "--out", workdir / "runs", "--review-db", url)

    assert code == EX_TEMPFAIL
    assert one_line(err).startswith(f"review database {url}: ")
    assert [p.name for p in (workdir / "runs").iterdir() if not p.name.endswith(".lock")] == []


def test_without_a_champion_the_run_fails_in_one_line_and_writes_nothing(market, tmp_path, monkeypatch):
    uri = use_store(monkeypatch, tmp_path)

    code, _, err = invoke("run", "--data", market, "--as-of", AS_OF)  # no registry at all: none is created

    assert code == EX_CONFIG
    assert one_line(err) == f"no model registry at {tmp_path / 'mlflow.db'} (from {uri}): run `buyer-abuse train` first"
    assert list(tmp_path.iterdir()) == []

    pipeline.registry.configure(uri)  # a registry with no champion
    code, _, err = invoke("run", "--data", market, "--as-of", AS_OF)

    assert code == EX_CONFIG
    assert one_line(err) == f"no model has the alias 'champion' in the registry at {uri}: run `buyer-abuse train` first"
    assert [p.name for p in (tmp_path / "runs").iterdir()] == []


def test_the_summary_has_counts_stages_model_quantiles_queue_rings_and_drift(market, workdir, settings):
    out = workdir / "runs"
    first = batch(settings, market, AS_OF - DAY, None, out, capacity=50)
    summary = batch(settings, market, AS_OF, None, out, capacity=50)

    assert summary_of(out, AS_OF) == summary
    assert first["drift"] == {"previous_run": None, "report": "drift.html"}
    scores, features = scores_of(out, AS_OF), pl.read_parquet(out / f"as_of={AS_OF}" / "features.parquet")
    queue = read_queue(connect(settings_in(workdir).review_db), AS_OF)
    rows = json.loads((market / "market.json").read_text())["rows"]

    assert summary["as_of"] == AS_OF.isoformat()
    assert summary["model"] == "buyer-abuse/1"
    assert {name: c["rows"] for name, c in summary["inputs"]["tables"].items()} == {
        name: rows[name] for name in ("accounts", "orders", "payment_attempts", "sessions", "labels")
    }
    assert summary["inputs"]["rejected_rows"] == 0
    assert (summary["accounts"], summary["scored"], summary["queued"]) == (features.height, scores.height, len(queue))
    assert summary["queued"] == 50
    queued_scores = queue.loc[queue["rank"] <= 50, "score"]
    assert summary["queued_sharing_a_score"] == int(queued_scores.duplicated(keep=False).sum())
    assert summary["queued_sharing_a_score"] <= 2  # bagged boosters: scores do not tie in blocks
    assert summary["unknown_families"] == {}  # the simulated market has every source
    assert summary["already_confirmed_excluded"] == len(
        confirmed_in_snapshot(market, AS_OF) & set(scores["account_id"])
    )
    assert list(summary["seconds"]) == STAGES
    assert all(s >= 0 for s in summary["seconds"].values())

    quantiles = summary["score_quantiles"]
    assert list(quantiles) == ["p50", "p90", "p99", "p99.9", "max"]
    assert list(quantiles.values()) == sorted(quantiles.values())
    assert quantiles["p50"] == pytest.approx(np.quantile(scores["score"].to_numpy(), 0.5), abs=1e-5)
    assert quantiles["max"] == pytest.approx(scores["score"].max(), abs=1e-5)

    rings = summary["largest_rings"]
    assert 0 < len(rings) <= 5
    assert [r["size"] for r in rings] == sorted((r["size"] for r in rings), reverse=True)
    for ring in rings:
        members = set(features.filter(pl.col("ring_id") == ring["ring_id"])["account_id"])
        assert ring["size"] == len(members)
        assert ring["queued"] == len(members & set(queue["account_id"]))
    biggest = features.filter(pl.col("ring_id").is_not_null())["ring_id"].value_counts()["count"].max()
    assert rings[0]["size"] == biggest

    drift = summary["drift"]
    assert drift["previous_run"] == f"as_of={AS_OF - DAY}"
    assert drift["threshold"] == DRIFT_THRESHOLD
    assert len(drift["columns"]) == 1 + DRIFT_FEATURES and "score" in drift["columns"]
    assert all(np.isfinite(c["statistic"]) and c["statistic"] >= 0 for c in drift["columns"].values())
    assert {c["kind"] for c in drift["columns"].values()} <= {"categorical", "continuous"}
    assert len(drift["warnings"]) == sum(c["drifted"] for c in drift["columns"].values())
    # Kept per run (the history is those files) and shown in an HTML report, in the run directory and MLflow.
    run_dir = out / f"as_of={AS_OF}"
    table = pl.read_parquet(run_dir / "drift.parquet")
    assert sorted(table["column"]) == sorted(drift["columns"])
    page = (run_dir / "drift.html").read_text()
    assert page.startswith("<!doctype html>") and f"Drift of the run as of {AS_OF}" in page and "History" in page
    client = MlflowClient(tracking_uri=settings.tracking_uri)
    nightly = client.search_runs(
        [client.get_experiment_by_name("buyer-abuse").experiment_id],
        f"tags.kind = 'nightly' and tags.as_of = '{AS_OF}'",
    )
    assert nightly and {a.path for a in client.list_artifacts(nightly[0].info.run_id, "nightly")} >= {
        "nightly/drift.html",
        "nightly/summary.json",
    }
