"""The review table (docs/data_contract.md section 2), specified on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pandas as pd
import polars as pl
import pytest
import sqlalchemy as sa

from features.labels import confirmed_abusers
from pipeline import review_db
from pipeline.errors import ReviewDbError
from pipeline.review_db import (
    connect,
    read_queue,
    record_verdict,
    verdicts,
    write_queue,
)

DAY = date(2026, 3, 31)
NEXT_DAY = date(2026, 4, 1)
T1 = datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=UTC)
T2 = datetime(2026, 4, 2, 14, 0, tzinfo=UTC)
T3 = datetime(2026, 4, 3, 8, 0, tzinfo=UTC)


def reasons(*features: str) -> str:
    return json.dumps([{"feature": f, "value": 1.0, "contribution": 0.5} for f in features])


def queue(scores: dict[str, float], model_version: str = "buyer-abuse/1", ring_id: str | None = None) -> pd.DataFrame:
    """A queue as the batch run writes it: the given accounts ranked by score, one reason each."""
    ranked = sorted(scores, key=scores.get, reverse=True)
    return pd.DataFrame(
        {
            "account_id": ranked,
            "score": [scores[a] for a in ranked],
            "rank": list(range(1, len(ranked) + 1)),
            "model_version": model_version,
            "reasons": reasons("buyer_cancel_rate_30d"),
            "ring_id": ring_id,
        }
    )


def row(engine: sa.Engine, account_id: str, as_of: date = DAY) -> dict:
    rows = read_queue(engine, as_of)
    return rows.loc[rows["account_id"] == account_id].iloc[0].to_dict()


@pytest.fixture
def engine(review_url: str) -> Iterator[sa.Engine]:
    engine = connect(review_url)
    yield engine
    engine.dispose()


def test_first_write_queues_every_account_open(engine):
    written = write_queue(
        engine,
        DAY,
        pd.DataFrame(
            {
                "account_id": ["b", "a", "c"],
                "score": [0.97, 0.91, 0.5],
                "rank": [1, 2, 3],
                "model_version": ["buyer-abuse/7"] * 3,
                "reasons": [reasons("buyer_cancel_rate_30d"), reasons("failed_payments_7d"), "[]"],
                "ring_id": ["ring-1", "ring-1", None],
            }
        ),
    )

    got = read_queue(engine, DAY).fillna({"ring_id": "-"})
    assert written == 3
    assert got[["account_id", "as_of", "score", "rank", "ring_id", "status"]].values.tolist() == [
        ["b", DAY, 0.97, 1, "ring-1", "open"],
        ["a", DAY, 0.91, 2, "ring-1", "open"],
        ["c", DAY, 0.5, 3, "-", "open"],
    ]
    assert json.loads(got["reasons"][1])[0]["feature"] == "failed_payments_7d"
    assert got[["reviewed_by", "reviewed_at", "note"]].isna().all().all()
    assert str(got["reviewed_at"].dtype).endswith(", UTC]")


def test_rewrite_replaces_scores_but_keeps_the_analysts_verdict(engine):
    write_queue(engine, DAY, queue({"a": 0.9, "b": 0.8}))
    record_verdict(engine, "b", DAY, "confirmed_abuse", "ana", note="12 cancels after payment", reviewed_at=T1)

    write_queue(engine, DAY, queue({"a": 0.7, "b": 0.95}, model_version="buyer-abuse/2", ring_id="ring-9"))

    b = row(engine, "b")
    assert (b["score"], b["rank"], b["model_version"], b["ring_id"]) == (0.95, 1, "buyer-abuse/2", "ring-9")
    assert (b["status"], b["reviewed_by"], b["note"]) == ("confirmed_abuse", "ana", "12 cancels after payment")
    assert b["reviewed_at"] == pd.Timestamp(T1)
    a = row(engine, "a")
    assert (a["score"], a["rank"], a["status"]) == (0.7, 2, "open")


def test_rewrite_drops_untouched_accounts_no_longer_queued_but_keeps_reviewed_ones(engine):
    write_queue(engine, DAY, queue({"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}))
    record_verdict(engine, "c", DAY, "escalated", "ana", reviewed_at=T1)
    record_verdict(engine, "d", DAY, "cleared", "bo", reviewed_at=T2)

    written = write_queue(engine, DAY, queue({"a": 0.9, "e": 0.85}))

    got = read_queue(engine, DAY).set_index("account_id")
    assert written == 2
    assert sorted(got.index) == ["a", "c", "d", "e"]  # b: untouched and no longer flagged
    assert got.loc[["c", "d"], "status"].tolist() == ["escalated", "cleared"]
    assert got.loc[["c", "d"], "rank"].tolist() == [3, 4]  # kept exactly as the analysts left them


def test_rewrite_leaves_other_dates_alone(engine):
    write_queue(engine, DAY, queue({"a": 0.9, "b": 0.8}))
    write_queue(engine, NEXT_DAY, queue({"a": 0.6}))

    assert write_queue(engine, DAY, queue({})) == 0

    assert read_queue(engine, DAY).empty
    assert read_queue(engine, DAY).dtypes.equals(read_queue(engine, NEXT_DAY).dtypes)  # empty or not
    assert read_queue(engine, NEXT_DAY)[["account_id", "as_of", "score"]].values.tolist() == [["a", NEXT_DAY, 0.6]]
    assert read_queue(engine)["as_of"].tolist() == [NEXT_DAY]


def test_verdicts_are_labels_decided_at_the_exact_review_instant(engine):
    write_queue(engine, DAY, queue({"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}))
    in_singapore = timezone(timedelta(hours=8))
    record_verdict(engine, "a", DAY, "confirmed_abuse", "ana", reviewed_at=T1.astimezone(in_singapore))
    record_verdict(engine, "b", DAY, "cleared", "bo", reviewed_at=T2.replace(tzinfo=None))  # naive = UTC
    record_verdict(engine, "c", DAY, "escalated", "ana", reviewed_at=T1)  # not a decision yet

    labels = verdicts(engine)

    assert labels.values.tolist() == [
        ["a", "abuse", pd.Timestamp(T1), "review"],
        ["b", "legit", pd.Timestamp(T2), "review"],
    ]
    assert str(labels["decided_at"].dt.tz) == "UTC"
    assert verdicts(engine, until=T1)["account_id"].tolist() == ["a"]  # until is inclusive ...
    assert verdicts(engine, until=T1 - timedelta(microseconds=1)).empty  # ... to the microsecond
    none_yet = verdicts(engine, until=T1 - timedelta(days=1))
    assert list(none_yet.columns) == ["account_id", "label", "decided_at", "source"]
    assert none_yet.dtypes.equals(labels.dtypes)


def test_record_verdict_defaults_to_now_in_utc(engine):
    write_queue(engine, DAY, queue({"a": 0.9}))
    before = datetime.now(UTC)
    record_verdict(engine, "a", DAY, "cleared", "ana")
    assert before <= row(engine, "a")["reviewed_at"] <= datetime.now(UTC)


def test_verdicts_read_back_as_labels_make_the_latest_decision_the_one_in_force(engine):
    write_queue(engine, DAY, queue({"a": 0.9, "b": 0.8, "c": 0.7}))
    write_queue(engine, NEXT_DAY, queue({"a": 0.9}))
    record_verdict(engine, "a", DAY, "confirmed_abuse", "ana", reviewed_at=T1)
    record_verdict(engine, "a", NEXT_DAY, "cleared", "bo", reviewed_at=T2)  # appeal upheld
    record_verdict(engine, "b", DAY, "confirmed_abuse", "ana", reviewed_at=T3)
    record_verdict(engine, "c", DAY, "escalated", "ana", reviewed_at=T1)

    labels, after = pl.from_pandas(verdicts(engine)), timedelta(seconds=1)
    assert confirmed_abusers(labels, T1 + after) == ["a"]
    assert confirmed_abusers(labels, T2 + after) == []  # cleared after being confirmed
    assert confirmed_abusers(labels, T3 + after) == ["b"]
    assert confirmed_abusers(labels, T1) == []  # a decision is in force only after it is made


@pytest.mark.parametrize(
    ("account_id", "status", "message"),
    [
        ("a", "fraud", "unknown review status 'fraud'"),
        ("zz", "cleared", "no review row for account 'zz' on 2026-03-31"),
    ],
)
def test_record_verdict_refuses_unknown_status_and_missing_row(engine, account_id, status, message):
    write_queue(engine, DAY, queue({"a": 0.9}))
    before = read_queue(engine)

    with pytest.raises(ReviewDbError, match=message) as refused:
        record_verdict(engine, account_id, DAY, status, "ana")

    assert "\n" not in str(refused.value)
    pd.testing.assert_frame_equal(read_queue(engine), before)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda q: q.assign(account_id=["a", "a", "c"]), r"account_id repeated \(2 of 3 rows, e.g. a, a\)"),
        (lambda q: q.assign(score=[1.2, 0.5, 0.4]), r"score not within 0..1 \(1 of 3 rows, e.g. a\)"),
        (lambda q: q.assign(score=[0.9, float("nan"), -0.1]), r"score not within 0..1 \(2 of 3 rows, e.g. b, c\)"),
        (lambda q: q.assign(rank=[0, 2, 3]), r"rank not an integer >= 1"),
        (lambda q: q.assign(reasons=["[]", "not json", None]), r"reasons not a JSON list \(2 of 3 rows, e.g. b, c\)"),
        (lambda q: q.assign(reasons=["[]", "[NaN]", "[1]"]), r"reasons not a JSON list \(1 of 3 rows, e.g. b\)"),
        (lambda q: q.assign(account_id=["a", None, "c"]), r"account_id missing \(1 of 3 rows, e.g. row 1\)"),
        (lambda q: q.drop(columns="ring_id"), r"missing column\(s\) ring_id"),
    ],
)
def test_write_queue_refuses_an_invalid_queue_and_writes_nothing(engine, change, message):
    write_queue(engine, DAY, queue({"x": 0.3}))
    before = read_queue(engine)

    with pytest.raises(ReviewDbError, match=message) as refused:
        write_queue(engine, DAY, change(queue({"a": 0.9, "b": 0.8, "c": 0.7})))

    assert "\n" not in str(refused.value)
    pd.testing.assert_frame_equal(read_queue(engine), before)


def test_write_queue_reports_every_broken_rule_at_once(engine):
    bad = queue({"a": 0.9, "b": 0.8}).assign(score=[1.5, 0.8], rank=[1, -1])
    with pytest.raises(ReviewDbError, match=r"score not within 0\.\.1 .*; rank not an integer >= 1"):
        write_queue(engine, DAY, bad)


def test_a_failure_inside_the_write_leaves_the_table_as_before(engine, monkeypatch):
    write_queue(engine, DAY, queue({"a": 0.9, "b": 0.8}))
    record_verdict(engine, "b", DAY, "escalated", "ana", reviewed_at=T1)
    before = read_queue(engine)

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(review_db, "_delete_stale", crash)  # runs after the upsert, in the same transaction
    with pytest.raises(RuntimeError, match="disk full"):
        write_queue(engine, DAY, queue({"b": 0.99, "c": 0.5}, model_version="buyer-abuse/2"))

    pd.testing.assert_frame_equal(read_queue(engine), before)


def test_connect_records_the_schema_version_and_refuses_a_newer_one(review_url):
    engine = connect(review_url)
    with engine.begin() as conn:
        assert conn.scalar(sa.select(review_db.review_schema.c.version)) == review_db.SCHEMA_VERSION
        conn.execute(sa.update(review_db.review_schema).values(version=review_db.SCHEMA_VERSION + 1))
    engine.dispose()

    newer, known = review_db.SCHEMA_VERSION + 1, review_db.SCHEMA_VERSION
    with pytest.raises(ReviewDbError, match=f"schema version {newer}, newer than the {known} this buyer-abuse knows"):
        connect(review_url)


def test_connecting_again_keeps_the_data(review_url):
    first = connect(review_url)
    write_queue(first, DAY, queue({"a": 0.9}))
    first.dispose()
    again = connect(review_url)
    assert read_queue(again)["account_id"].tolist() == ["a"]
    again.dispose()


def test_connect_to_a_closed_postgres_port_fails_fast_in_one_line():
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()

    with pytest.raises(ReviewDbError) as refused:
        connect(f"postgresql+psycopg://ana:s3cret-pw@127.0.0.1:{port}/review", attempts=1)

    message = str(refused.value)
    assert time.monotonic() - started < 5
    assert "\n" not in message and "s3cret-pw" not in message
    assert f"127.0.0.1:{port}" in message and "refused" in message.lower()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("review.db", "URL is malformed"),
        ("oracle+nosuchdriver://u:pw@host/db", "unsupported backend"),
        ("postgresql+nosuchdriver://u:pw@host/db", "review database postgresql\\+nosuchdriver://u:\\*\\*\\*@host/db"),
        ("sqlite:////nonexistent-dir/sub/review.db", "directory /nonexistent-dir/sub does not exist"),
        ("", "the review database URL is empty"),
        ("  ", "the review database URL is empty"),
        ("sqlite://", "is in memory"),
        ("sqlite:///:memory:", "is in memory"),
    ],
)
def test_connect_refuses_an_unusable_url_in_one_line(url, message):
    with pytest.raises(ReviewDbError, match=message) as refused:
        connect(url)
    assert "\n" not in str(refused.value) and ":pw@" not in str(refused.value)
