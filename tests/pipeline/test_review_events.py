"""Case work in the review database (revision 0003), on SQLite and on a real PostgreSQL server:
claims, verdicts and ring verdicts append to review_events, the queue row keeps the latest
state, a second claim or a stale verdict is refused, and training still reads the verdicts."""

from __future__ import annotations

import threading
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from pipeline import review_db
from pipeline.errors import CaseConflict, ReviewDbError

DAY = date(2026, 3, 31)


@pytest.fixture
def engine(review_url: str):
    engine = review_db.connect(review_url)
    review_db.write_queue(
        engine,
        DAY,
        pd.DataFrame(
            {
                "account_id": ["a", "b", "c", "d"],
                "score": [0.9, 0.8, 0.7, 0.6],
                "rank": [1, 2, 3, 4],
                "model_version": "buyer-abuse/1",
                "reasons": "[]",
                "ring_id": ["R-a", "R-a", "R-a", None],
            }
        ),
    )
    yield engine
    engine.dispose()


def status(engine, account: str) -> str:
    rows = review_db.read_queue(engine, DAY)
    return rows.loc[rows["account_id"] == account, "status"].iloc[0]


def history(engine, *columns: str) -> list[tuple]:
    frame = review_db.events(engine)[list(columns)]
    return list(frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None))


def test_a_claim_then_a_verdict_leave_two_events_and_the_row_at_its_latest_state(engine):
    review_db.claim(engine, "a", DAY, "ana")
    assert review_db.claims_of(engine, DAY)["claimed_by"].tolist() == ["ana"]

    review_db.record_verdict(engine, "a", DAY, "confirmed_abuse", "ana", note="ring of resellers")

    assert history(engine, "account_id", "action", "from_status", "to_status", "changed_by", "note") == [
        ("a", "claim", "open", "open", "ana", None),
        ("a", "verdict", "open", "confirmed_abuse", "ana", "ring of resellers"),
    ]
    assert status(engine, "a") == "confirmed_abuse"
    assert review_db.claims_of(engine).empty  # a verdict ends the claim
    assert review_db.verdicts(engine)["account_id"].tolist() == ["a"]  # training reads it as before
    assert review_db.events(engine)["changed_at"].dt.tz is not None


def test_a_second_analysts_claim_or_verdict_is_refused_naming_the_holder(engine):
    review_db.claim(engine, "a", DAY, "ana")
    review_db.claim(engine, "a", DAY, "ana")  # one's own claim again: nothing changes

    with pytest.raises(CaseConflict, match="claimed by ana"):
        review_db.claim(engine, "a", DAY, "bo")
    with pytest.raises(CaseConflict, match="claimed by ana"):
        review_db.record_verdict(engine, "a", DAY, "cleared", "bo")
    with pytest.raises(CaseConflict, match="claimed by ana"):
        review_db.release(engine, "a", DAY, "bo")
    with pytest.raises(CaseConflict, match="not claimed by bo"):
        review_db.release(engine, "b", DAY, "bo")

    assert status(engine, "a") == "open"
    assert history(engine, "action", "changed_by") == [("claim", "ana")]
    review_db.release(engine, "a", DAY, "ana")
    review_db.claim(engine, "a", DAY, "bo")  # released: free for another
    assert history(engine, "action", "changed_by")[-2:] == [("release", "ana"), ("claim", "bo")]


def test_a_verdict_on_what_changed_since_it_was_shown_is_refused(engine):
    seen = review_db.last_event(engine, ["b"], DAY)
    review_db.record_verdict(engine, "b", DAY, "cleared", "bo", seen=seen)

    with pytest.raises(CaseConflict, match=r"changed since you opened it \(verdict by bo"):
        review_db.record_verdict(engine, "b", DAY, "confirmed_abuse", "ana", seen=seen)

    assert status(engine, "b") == "cleared"
    assert len(review_db.events(engine)) == 1


def test_a_ring_verdict_decides_the_undecided_members_in_one_step_and_says_which(engine):
    review_db.record_verdict(engine, "b", DAY, "cleared", "bo")
    review_db.record_verdict(engine, "c", DAY, "escalated", "bo")

    outcome = review_db.record_ring_verdict(engine, ["a", "b", "c", "x"], DAY, "confirmed_abuse", "ana", note="ring")

    assert outcome == {"decided": ["a", "c"], "kept": ["b"], "not queued": ["x"]}
    assert [status(engine, a) for a in "abc"] == ["confirmed_abuse", "cleared", "confirmed_abuse"]
    assert history(engine, "account_id", "from_status", "to_status")[-2:] == [
        ("a", "open", "confirmed_abuse"),
        ("c", "escalated", "confirmed_abuse"),
    ]


def test_a_ring_verdict_touching_another_analysts_claim_records_nothing(engine):
    review_db.claim(engine, "c", DAY, "bo")
    seen = review_db.last_event(engine, ["a", "b", "c"], DAY)

    with pytest.raises(CaseConflict, match="c on 2026-03-31 is claimed by bo"):
        review_db.record_ring_verdict(engine, ["a", "b", "c"], DAY, "confirmed_abuse", "ana")
    review_db.release(engine, "c", DAY, "bo")
    with pytest.raises(CaseConflict, match="the ring changed"):
        review_db.record_ring_verdict(engine, ["a", "b", "c"], DAY, "confirmed_abuse", "ana", seen=seen)

    assert [status(engine, a) for a in "abc"] == ["open"] * 3


def test_a_verdict_on_a_row_not_in_the_queue_or_with_an_unknown_status_records_nothing(engine):
    with pytest.raises(ReviewDbError, match="no review row for account 'zz'"):
        review_db.record_verdict(engine, "zz", DAY, "cleared", "ana")
    with pytest.raises(ReviewDbError, match="unknown review status"):
        review_db.record_verdict(engine, "a", DAY, "banned", "ana")
    assert review_db.events(engine).empty


def test_a_claimed_row_is_kept_when_a_rerun_drops_its_account(engine):
    review_db.claim(engine, "d", DAY, "ana")

    review_db.write_queue(
        engine, DAY, pd.DataFrame(columns=["account_id", "score", "rank", "model_version", "reasons", "ring_id"])
    )

    assert review_db.read_queue(engine, DAY)["account_id"].tolist() == ["d"]  # the others were untouched


def test_two_analysts_claiming_at_once_one_wins(engine, review_url):
    engines = [review_db.connect(review_url) for _ in range(2)]
    barrier, outcomes = threading.Barrier(2), []

    def take(who: str, mine: sa.Engine) -> None:
        barrier.wait()
        try:
            review_db.claim(mine, "a", DAY, who)
            outcomes.append("claimed")
        except CaseConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=take, args=(who, e)) for who, e in zip(("ana", "bo"), engines, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()

    assert sorted(outcomes) == ["claimed", "refused"]
    assert len(review_db.events(engine)) == 1
