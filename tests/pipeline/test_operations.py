"""Operating the nightly run under mistakes, races and messy exports: outputs never land in the
snapshot, the review database is never silently wrong, one run per date per review table, ids
and dates, rejects kept when the limit stops a run, exit codes for schedulers, lock files and
the final move of the run directory. On SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from e2e import AS_OF, FAST, Champion, invoke, one_line, settings_in

import pipeline.drift
import pipeline.files
import pipeline.run
from pipeline import preflight, review_db
from pipeline.errors import EX_DATAERR, EX_TEMPFAIL, EX_USAGE, RunLocked, UsageError
from pipeline.review_db import connect, read_queue
from pipeline.run import run

DAY = timedelta(days=1)


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# -- outputs never land where they should not (fast: refused before any work) --------------------


@pytest.mark.parametrize(
    "args",
    [
        ["features", "--as-of", "2026-03-01", "--out", "{snap}/orders.parquet"],
        ["features", "--as-of", "2026-03-01", "--out", "{snap}/new/features.parquet"],
        ["run", "--as-of", "2026-03-01", "--out", "{snap}/labels"],
        ["run", "--as-of", "2026-03-01", "--out", "{snap}"],
        ["validate", "--out", "{snap}/checked"],
    ],
    ids=["features-on-input", "features-inside", "run-inside", "run-same", "validate-inside"],
)
def test_an_output_inside_the_snapshot_is_refused_before_anything_is_created(
    args, tables, write, tmp_path, monkeypatch
):
    snap = write(tables)
    monkeypatch.chdir(tmp_path)
    before = {p: p.read_bytes() for p in snap.iterdir()}

    code, _, err = invoke(*(a.format(snap=snap) for a in args), "--data", snap)

    assert code == EX_USAGE
    assert "inside the snapshot directory" in one_line(err) or "would replace an input file" in one_line(err)
    assert {p: p.read_bytes() for p in snap.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]  # no review.db, mlflow.db, runs/


def test_an_output_equal_to_an_input_file_elsewhere_is_refused(tables, write, tmp_path):
    snap = write(tables)
    real = tmp_path / "exports" / "orders.parquet"
    real.parent.mkdir()
    (snap / "orders.parquet").rename(real)
    (snap / "orders.parquet").symlink_to(real)

    with pytest.raises(UsageError, match="would replace an input file"):
        preflight.outputs_outside(snap, real)


@pytest.mark.parametrize("url", ["", "sqlite://", "sqlite:///:memory:"], ids=["empty", "memory", "memory-path"])
def test_a_review_database_that_would_be_silently_wrong_is_refused_in_one_line(
    url, tables, write, tmp_path, monkeypatch
):
    snap = write(tables)
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke("run", "--data", snap, "--as-of", "2026-03-01", "--review-db", url)

    assert code == 78
    assert one_line(err).startswith(("the review database URL is empty", "review database sqlite://"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]


def test_a_missing_snapshot_creates_no_database_registry_or_run_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke("run", "--data", tmp_path / "nonexistent", "--as-of", "2026-03-01")

    assert code == EX_DATAERR
    assert one_line(err) == f"snapshot directory {tmp_path / 'nonexistent'} does not exist"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_registry_is_not_created_by_a_run(tables, write, tmp_path, monkeypatch):
    snap = write(tables)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    code, _, err = invoke("run", "--data", snap, "--as-of", "2026-03-01")

    assert code == 78
    assert one_line(err).startswith(f"no model registry at {tmp_path.resolve() / 'mlflow.db'}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]


# -- dates ----------------------------------------------------------------------------------------


def test_a_day_that_has_not_ended_in_utc_is_refused():
    day = date(2026, 3, 31)
    preflight.day_is_over(day, now=datetime(2026, 4, 1, 0, 0, tzinfo=UTC))  # over at midnight UTC
    with pytest.raises(UsageError, match=r"--as-of 2026-03-31 has not ended yet in UTC .* missing hours"):
        preflight.day_is_over(day, now=datetime(2026, 3, 31, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize("command", ["run", "features", "train"])
def test_the_cli_refuses_a_day_not_over_yet(command, tables, write, tmp_path, monkeypatch):
    snap = write(tables)
    monkeypatch.chdir(tmp_path)
    tomorrow = datetime.now(UTC).date() + DAY
    extra = ["--out", tmp_path / "f.parquet"] if command == "features" else []

    code, _, err = invoke(command, "--data", snap, "--as-of", tomorrow, *extra)

    assert code == EX_USAGE
    assert one_line(err).startswith(f"--as-of {tomorrow} has not ended yet in UTC")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot"]


def test_features_before_any_activity_refuse_in_one_line(tables, write, tmp_path, monkeypatch):
    snap = write(tables)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out" / "features.parquet"

    code, _, err = invoke("features", "--data", snap, "--as-of", "2025-01-01", "--out", out)

    assert code == EX_DATAERR
    assert one_line(err) == "no account was registered before the end of 2025-01-01: is --as-of right?"
    assert not out.parent.exists()


# -- end to end, with the session's champion -----------------------------------------------------


@pytest.fixture
def workdir(champion: Champion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion.uri)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def foreign_lock(url: str, day: date, expires: datetime, host: str = "elsewhere", pid: int = 1) -> None:
    """The lock row of a run of `day` that another process holds (or held) in the review database."""
    engine = connect(url)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(review_db.run_locks),
            dict(
                as_of=day,
                owner=f"ana@{host} pid {pid} (run directory /srv/other/as_of={day})",
                host=host,
                pid=pid,
                acquired_at=expires - timedelta(minutes=10),
                expires_at=expires,
            ),
        )
    engine.dispose()


@pytest.mark.slow
def test_a_second_run_of_a_date_into_the_same_review_table_is_refused_whatever_its_out(
    market, workdir, review_url, champion
):
    foreign_lock(review_url, AS_OF, datetime.now(UTC) + timedelta(minutes=10))
    out = workdir / "other-runs"

    code, _, err = invoke("run", "--data", market, "--as-of", AS_OF, "--review-db", review_url, "--out", out)

    assert code == EX_TEMPFAIL
    assert one_line(err).startswith(f"another run for {AS_OF} is in progress in this review database (ana@elsewhere")
    assert list(out.iterdir()) == []  # no run directory, no partial, no lock file left
    assert read_queue(connect(review_url)).empty


@pytest.mark.slow
@pytest.mark.parametrize("stale", ["expired", "process gone"])
def test_a_stale_lock_is_taken_over_and_released_after_the_run(market, workdir, review_url, champion, stale):
    import socket

    if stale == "expired":
        foreign_lock(review_url, AS_OF, datetime.now(UTC) - timedelta(seconds=1))
    else:  # a run killed with -9 on this host: its process id is free
        foreign_lock(review_url, AS_OF, datetime.now(UTC) + timedelta(hours=1), socket.gethostname(), 2**22 + 1)
    settings = settings_in(workdir, tracking_uri=champion.uri, review_db=review_url, capacity=20)

    run(market, AS_OF, settings)

    engine = connect(review_url)
    assert len(read_queue(engine, AS_OF)) == 20
    with engine.connect() as conn:
        assert conn.execute(sa.select(review_db.run_locks)).all() == []  # released
    engine.dispose()
    assert [p.name for p in settings.runs.iterdir()] == [f"as_of={AS_OF}"]  # no lock file piles up


def test_a_run_that_lost_its_lock_does_not_write_the_review_table(review_url):
    engine = connect(review_url)
    review_db.acquire_run_lock(engine, AS_OF, "run A")
    with engine.begin() as conn:  # another run took it over after it expired
        conn.execute(sa.update(review_db.run_locks).values(owner="run B"))
    queue = pl.DataFrame(
        {
            "account_id": ["a"],
            "score": [0.9],
            "rank": [1],
            "model_version": ["m/1"],
            "reasons": ["[]"],
            "ring_id": [None],
        }
    ).to_pandas()

    with pytest.raises(RunLocked, match="lost the lock"):
        review_db.write_queue(engine, AS_OF, queue, lock="run A")

    assert read_queue(engine).empty
    review_db.write_queue(engine, AS_OF, queue, lock="run B")
    assert len(read_queue(engine)) == 1
    engine.dispose()


# -- identifiers and messy exports, end to end -----------------------------------------------------


def order(order_id: str, account_id: str, t: datetime) -> dict:
    return dict(
        order_id=order_id,
        account_id=account_id,
        seller_id="s1",
        item_id="i1",
        placed_at=t,
        amount_usd=5.0,
        discount_usd=0.0,
        item_count=1,
        ship_country="DE",
    )


def market_with(market: Path, into: Path, *, accounts: list[dict], orders: list[dict]) -> Path:
    """A copy of `market` with extra rows appended to accounts and orders."""
    shutil.copytree(market, into)
    for name, rows in (("accounts", accounts), ("orders", orders)):
        table = pl.read_parquet(market / f"{name}.parquet")
        extra = pl.DataFrame(rows, schema={c: table.schema[c] for c in rows[0]})
        pl.concat([table, extra], how="diagonal_relaxed").write_parquet(into / f"{name}.parquet")
    return into


@pytest.mark.slow
def test_an_id_with_a_nul_byte_is_rejected_alike_on_both_backends_and_the_night_goes_on(
    market, workdir, review_url, champion
):
    t = datetime(2026, 3, 1, tzinfo=UTC)
    nul = "u\x00evil"
    snap = market_with(
        market,
        workdir / "snap",
        accounts=[dict(account_id=nul, created_at=t, country="DE")],
        orders=[order("o-nul", nul, t) | {"seller_id": "s\x00x"}],
    )
    settings = settings_in(workdir, tracking_uri=champion.uri, review_db=review_url, capacity=20)

    summary = run(snap, AS_OF, settings)

    rejects = pl.read_parquet(settings.runs / f"as_of={AS_OF}" / "rejects.parquet")
    assert set(rejects.select("table", "key", "action").rows()) == {
        ("accounts", nul, "rejected"),
        ("orders", "o-nul", "rejected"),
    }
    assert {
        r"accounts.account_id does not match ^[^\x00-\x1f\x7f-\x9f]{1,256}$",
        r"orders.account_id does not match ^[^\x00-\x1f\x7f-\x9f]{1,256}$",
        r"orders.seller_id does not match ^[^\x00-\x1f\x7f-\x9f]{1,256}$",
    } <= set(rejects["rule"])
    assert summary["queued"] == 20 and summary["inputs"]["rejected_rows"] == 2


@pytest.mark.slow
def test_when_the_reject_limit_stops_a_run_its_rejects_are_still_written(market, workdir, champion):
    t = datetime(2026, 3, 1, tzinfo=UTC)
    snap = market_with(
        market,
        workdir / "snap",
        accounts=[dict(account_id="u-bad", created_at=t, country="Germany")],
        orders=[order("o-x", "u-bad", t)],
    )
    out = workdir / "runs"

    code, _, err = invoke("run", "--data", snap, "--as-of", AS_OF, "--out", out, "--reject-limit", 0)

    assert code == EX_DATAERR
    line = one_line(err)
    assert line.startswith("accounts: 1 of ") and "raise --reject-limit, now 0, to accept them" in line
    stopped = out / f"as_of={AS_OF}.rejects.parquet"
    assert f"(rejects in {stopped})" in line
    assert pl.read_parquet(stopped).select("table", "key").rows() == [("accounts", "u-bad"), ("orders", "o-x")]
    assert sorted(p.name for p in out.iterdir()) == [stopped.name]  # no run directory, no lock file

    code, _, err = invoke("run", "--data", snap, "--as-of", AS_OF, "--out", out)  # the default limit: it runs
    assert (code, err) == (0, "")
    assert sorted(p.name for p in out.iterdir()) == [f"as_of={AS_OF}"]  # the stopped run's rejects are gone


# -- signals for schedulers -----------------------------------------------------------------------


@pytest.mark.slow
def test_backfill_keep_going_runs_past_a_failing_date_and_lists_it(market, workdir, review_url, champion):
    days = [AS_OF - 2 * DAY, AS_OF - DAY, AS_OF]
    foreign_lock(review_url, days[1], datetime.now(UTC) + timedelta(minutes=10))  # that night is held elsewhere
    out = workdir / "runs"
    options = ["--data", market, "--out", out, "--review-db", review_url, "--capacity", 10]

    code, stdout, err = invoke("backfill", "--from", days[0], "--to", days[-1], "--keep-going", *options)

    assert code == EX_TEMPFAIL  # every failure was temporary: retry later
    assert one_line(err) == f"1 of 3 dates failed: {days[1]}"
    outcomes = [line for line in stdout.splitlines() if line[:10] in {str(d) for d in days}]
    assert outcomes[0] == f"{days[0]}  ran" and outcomes[2] == f"{days[2]}  ran"
    assert outcomes[1].startswith(f"{days[1]}  failed: another run for {days[1]} is in progress")
    assert sorted(p.name for p in out.iterdir()) == [f"as_of={days[0]}", f"as_of={days[2]}"]

    code, _, _ = invoke("backfill", "--from", days[0], "--to", days[-1], *options)  # without: stops at the first
    assert code == EX_TEMPFAIL


@pytest.mark.slow
@pytest.mark.parametrize("swap", ["atomic", "two renames"])
def test_a_kill_during_the_final_move_leaves_the_old_or_the_new_run_directory(
    market, workdir, champion, monkeypatch, swap
):
    settings = settings_in(workdir, tracking_uri=champion.uri, capacity=20)
    final = settings.runs / f"as_of={AS_OF}"
    run(market, AS_OF, settings)
    first = json.loads((final / "summary.json").read_text())

    with monkeypatch.context() as mp:
        if swap == "atomic":
            real = pipeline.files.exchange

            def killed_right_after(a, b):
                assert real(a, b)
                raise KeyboardInterrupt("killed")

            mp.setattr(pipeline.files, "exchange", killed_right_after)
        else:  # a filesystem that cannot swap: killed between moving the old one aside and the new one in
            mp.setattr(pipeline.files, "exchange", lambda a, b: False)
            real_rename = Path.rename

            def killed_between(self, target):
                if Path(target).name == f"as_of={AS_OF}" and ".partial" in self.name:
                    raise KeyboardInterrupt("killed")
                return real_rename(self, target)

            mp.setattr(Path, "rename", killed_between)
        with pytest.raises(KeyboardInterrupt):
            run(market, AS_OF, settings_in(workdir, tracking_uri=champion.uri, capacity=10))

    if swap == "atomic":  # the new directory is in place, complete
        assert json.loads((final / "summary.json").read_text())["capacity"] == 10
    else:  # the old one waits beside it; the next run puts it back first
        assert not final.exists() and (settings.runs / f".as_of={AS_OF}.old" / "summary.json").is_file()
        assert first["capacity"] == 20
    run(market, AS_OF, settings_in(workdir, tracking_uri=champion.uri, capacity=10))
    assert json.loads((final / "summary.json").read_text())["capacity"] == 10
    assert sorted(p.name for p in settings.runs.iterdir()) == [f"as_of={AS_OF}"]


# -- machine-readable outputs ---------------------------------------------------------------------


def strict_json(text: str) -> object:
    """What a strict parser (RFC 8259) reads: NaN, Infinity and -Infinity are refused."""

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_strict_json_turns_every_non_finite_number_into_null(tmp_path):
    path = tmp_path / "x.json"

    pipeline.files.write_json_atomic({"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": -float("inf")}}, path)

    assert strict_json(path.read_text()) == {"a": None, "b": [None, 1.5], "c": {"d": None}}


@pytest.mark.slow
def test_summary_json_is_strict_when_a_drifted_feature_is_all_null(market, workdir, champion):
    settings = settings_in(workdir, tracking_uri=champion.uri, capacity=10)
    run(market, AS_OF - DAY, settings)
    previous = settings.runs / f"as_of={AS_OF - DAY}" / "features.parquet"
    table = pl.read_parquet(previous)  # the previous night had every float feature empty
    table.with_columns(
        pl.lit(None, pl.Float64).alias(c) for c, t in table.schema.items() if t == pl.Float64
    ).write_parquet(previous)

    run(market, AS_OF, settings)

    run_dir = settings.runs / f"as_of={AS_OF}"
    summary = strict_json((run_dir / "summary.json").read_text())
    columns = summary["drift"]["columns"]
    emptied = [c for c, entry in columns.items() if entry["null_share"][0] == 1.0]
    assert emptied and all(columns[c]["drifted"] for c in emptied)
    assert all(isinstance(entry["statistic"], float) for entry in columns.values())
    strict_json((market / "market.json").read_text())


# -- a killed training leaves no half-registered version ------------------------------------------


@pytest.mark.slow
def test_a_killed_training_leaves_no_half_registered_version(market, tmp_path, monkeypatch):
    from e2e import use_store
    from mlflow.tracking import MlflowClient

    from pipeline import registry
    from pipeline.train import train

    uri = use_store(monkeypatch, tmp_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    def killed(version: str, alias: str) -> None:
        raise KeyboardInterrupt("killed")

    with monkeypatch.context() as mp:  # stopped between registering the version and giving it its alias
        mp.setattr(registry, "set_alias", killed)
        with pytest.raises(KeyboardInterrupt):
            train(market, AS_OF, settings_in(tmp_path), searching=FAST)
    assert client.search_model_versions(f"name = '{registry.MODEL_NAME}'") == []

    # Killed outright (-9) in that instant: a version without alias whose run never ended.
    orphan_run = client.create_run(client.get_experiment_by_name(registry.EXPERIMENT).experiment_id)
    orphan = client.create_model_version(
        registry.MODEL_NAME, f"runs:/{orphan_run.info.run_id}/model", run_id=orphan_run.info.run_id
    )

    trained = train(market, AS_OF, settings_in(tmp_path), searching=FAST)

    versions = {str(v.version) for v in client.search_model_versions(f"name = '{registry.MODEL_NAME}'")}
    assert versions == {trained.version} and str(orphan.version) not in versions
    assert client.get_run(orphan_run.info.run_id).info.status == "KILLED"
    assert str(client.get_model_version_by_alias(registry.MODEL_NAME, "champion").version) == trained.version
    version = client.get_model_version(registry.MODEL_NAME, trained.version)
    assert {"feature_set_version", "as_of", "labels_before"} <= set(version.tags)
