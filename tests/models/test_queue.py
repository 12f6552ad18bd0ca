"""models.queue: ranks over the whole run, and which accounts the review queue takes."""

from __future__ import annotations

import polars as pl

from models.queue import ranked, review_queue


def scores(**by_account: float) -> pl.DataFrame:
    return pl.DataFrame({"account_id": list(by_account), "score": list(by_account.values())})


def test_ranks_follow_the_score_and_ties_go_to_the_smaller_account_id():
    out = ranked(scores(c=0.5, a=0.9, b=0.5, d=0.1))
    assert out.rows() == [("a", 0.9, 1), ("b", 0.5, 2), ("c", 0.5, 3), ("d", 0.1, 4)]


def test_the_queue_skips_confirmed_abusers_and_ranks_the_rest_from_one():
    ranks = ranked(scores(a=0.9, b=0.8, c=0.7, d=0.6))
    queued, excluded = review_queue(ranks, confirmed={"a"}, kept=set(), capacity=2)
    assert queued.rows() == [("b", 0.8, 1), ("c", 0.7, 2)]
    assert excluded == 1


def test_rows_analysts_worked_on_stay_beyond_the_capacity_but_confirmed_ones_do_not():
    ranks = ranked(scores(a=0.9, b=0.8, c=0.7, d=0.6))
    queued, _ = review_queue(ranks, confirmed={"b"}, kept={"d", "b"}, capacity=1)
    assert queued["account_id"].to_list() == ["a", "d"]
    assert queued["rank"].to_list() == [1, 3]
