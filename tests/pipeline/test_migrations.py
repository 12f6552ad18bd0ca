"""The review database's schema under Alembic (pipeline/migrations), on SQLite and PostgreSQL: a new
database is made at the head revision, one made before Alembic (schema version 1) upgrades with
every verdict kept, a newer or a foreign schema is refused before anything is written, and
concurrent first uses of a new database do not race."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from pipeline import review_db
from pipeline.errors import ReviewDbError, ReviewDbUnavailable, RunLocked
from pipeline.review_db import connect, read_queue

DAY = date(2026, 3, 31)
T1 = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def revision(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(
                conn, opts={"version_table": review_db.VERSION_TABLE}
            ).get_current_revision()
    finally:
        engine.dispose()


def version_one_database(url: str) -> None:
    """A review database as buyer-abuse made it before Alembic: review_queue and review_schema
    (version 1) by create_all, with a queue an analyst has worked on."""
    old = sa.MetaData()
    queue = review_db.review_queue.to_metadata(old)
    schema = review_db.review_schema.to_metadata(old)
    engine = sa.create_engine(url)
    blank = dict.fromkeys(["ring_id", "reviewed_by", "reviewed_at", "note"])
    with engine.begin() as conn:
        old.create_all(conn)
        conn.execute(schema.insert(), {"version": 1})
        conn.execute(
            queue.insert(),
            [
                blank | row
                for row in (
                    dict(
                        account_id="a", as_of=DAY, score=0.9, rank=1, model_version="m/1", reasons="[]", status="open"
                    ),
                    dict(
                        account_id="b",
                        as_of=DAY,
                        score=0.8,
                        rank=2,
                        model_version="m/1",
                        reasons="[]",
                        status="confirmed_abuse",
                        reviewed_by="ana",
                        reviewed_at=T1,
                        note="ring of resellers",
                    ),
                    dict(
                        account_id="c",
                        as_of=DAY,
                        score=0.7,
                        rank=3,
                        model_version="m/1",
                        reasons="[]",
                        status="cleared",
                        reviewed_by="bo",
                        reviewed_at=T1,
                    ),
                )
            ],
        )
    engine.dispose()


def test_a_new_database_is_made_at_the_head_revision_exactly_as_the_tables_declare(review_url):
    connect(review_url).dispose()

    assert revision(review_url) == review_db._scripts().get_current_head()
    assert {"review_queue", "review_schema", "run_locks", review_db.VERSION_TABLE} <= tables(review_url)
    engine = sa.create_engine(review_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": review_db.VERSION_TABLE})
        assert compare_metadata(context, review_db.metadata) == []  # migrations and code agree
        assert conn.scalar(sa.text("SELECT version FROM review_schema")) == review_db.SCHEMA_VERSION
    engine.dispose()


def test_a_version_one_database_upgrades_and_keeps_every_verdict(review_url):
    version_one_database(review_url)

    engine = connect(review_url)

    assert revision(review_url) == review_db._scripts().get_current_head()
    rows = read_queue(engine, DAY).set_index("account_id")
    assert rows.loc[["a", "b", "c"], "status"].tolist() == ["open", "confirmed_abuse", "cleared"]
    assert (rows.loc["b", "reviewed_by"], rows.loc["b", "note"]) == ("ana", "ring of resellers")
    assert rows.loc["b", "reviewed_at"] == T1
    assert review_db.verdicts(engine)["account_id"].tolist() == ["b", "c"]
    # The history starts complete: one event per verdict made before events were kept.
    history = review_db.events(engine)
    assert history[["account_id", "action", "to_status", "changed_by"]].values.tolist() == [
        ["b", "verdict", "confirmed_abuse", "ana"],
        ["c", "verdict", "cleared", "bo"],
    ]
    assert history["from_status"].isna().all() and (history["changed_at"] == T1).all()
    engine.dispose()


def test_a_revision_unknown_to_this_version_is_refused_and_left_alone(review_url):
    connect(review_url).dispose()
    engine = sa.create_engine(review_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {review_db.VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()

    with pytest.raises(ReviewDbError, match="schema revision 9999, which this buyer-abuse does not know"):
        connect(review_url)

    assert revision(review_url) == "9999"


def test_another_applications_review_queue_is_refused_before_anything_is_written(review_url):
    engine = sa.create_engine(review_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE review_queue (ticket_id integer primary key, subject text)"))
    engine.dispose()

    with pytest.raises(ReviewDbError, match="already holds a review_queue table that buyer-abuse did not create"):
        connect(review_url)

    assert tables(review_url) == {"review_queue"}  # no review_schema row, no Alembic table, no lock table


def test_a_read_only_command_refuses_a_database_without_the_review_table(review_url, tmp_path):
    assert tables(review_url) == set()  # an empty database (on SQLite, an empty file)
    with pytest.raises(ReviewDbError, match="has no review_queue table: run `buyer-abuse run` first"):
        connect(review_url, create=False)
    assert not {"review_queue", "review_schema"} & tables(review_url)

    missing = tmp_path / "mistyped.db"
    with pytest.raises(ReviewDbError, match=f"no review database at {missing}"):
        connect(f"sqlite:///{missing}", create=False)
    assert not missing.exists()


def test_concurrent_first_uses_of_a_new_database_all_succeed(review_url):
    workers = 8
    start, failures = threading.Barrier(workers), []

    def first_use() -> None:
        start.wait()
        try:
            connect(review_url).dispose()
        except Exception as exc:  # collected: a thread's exception would otherwise be lost
            failures.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert revision(review_url) == review_db._scripts().get_current_head()
    engine = sa.create_engine(review_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM review_schema")).scalars().all() == [review_db.SCHEMA_VERSION]
    engine.dispose()


def test_a_database_that_does_not_answer_is_tried_again_with_backoff(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(review_db, "RETRY_WAIT", 0)
    real, calls = review_db._migrate, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise ReviewDbUnavailable("review database x: server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(review_db, "_migrate", flaky)

    connect(f"sqlite:///{tmp_path / 'review.db'}", attempts=4).dispose()

    assert len(calls) == 3
    assert "try 2 of 4" in caplog.text and "try 3 of 4" in caplog.text

    calls.clear()
    with pytest.raises(ReviewDbUnavailable):
        connect(f"sqlite:///{Path(tmp_path) / 'other.db'}", attempts=2)
    assert len(calls) == 2


def test_of_runs_taking_the_lock_of_a_date_at_once_exactly_one_wins(review_url):
    engine = connect(review_url)
    workers = 6
    start, won, refused = threading.Barrier(workers), [], []

    def take(n: int) -> None:
        start.wait()
        try:
            review_db.acquire_run_lock(engine, DAY, f"run {n}")
            won.append(n)
        except Exception as exc:  # RunLocked expected; anything else fails the test below
            refused.append(exc)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1
    assert len(refused) == workers - 1 and all(isinstance(exc, RunLocked) for exc in refused)
    review_db.release_run_lock(engine, DAY, f"run {won[0]}")
    review_db.acquire_run_lock(engine, DAY, "the next night")  # free again once released
    engine.dispose()
