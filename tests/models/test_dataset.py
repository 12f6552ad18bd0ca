"""models.dataset: training rows drawn the way the run scores (accounts at cut-offs, labelled with
what is known at training time), the ban rule, the weights, and the presumed-legit draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.labels import labels_in_force
from models.dataset import TrainingConfig, balanced_by_cutoff, cutoffs, draw_examples, merge_labels, stopped_at

T = datetime(2026, 4, 1, tzinfo=UTC)  # the training instant of `train --as-of 2026-03-31`
US, DAY = timedelta(microseconds=1), timedelta(days=1)
UTC_US = pl.Datetime("us", "UTC")
LABELS = {"account_id": pl.String, "label": pl.String, "decided_at": UTC_US, "source": pl.String}
ACTIVE = {"account_id": pl.String, "last_active_at": UTC_US}
NO_UNLABELLED = TrainingConfig(cadence_days=7, history_days=42, maturity_days=14, unlabelled_weight=0.0)


def labels(*rows: tuple[str, str, datetime], source: str = "manual_review") -> pl.DataFrame:
    return pl.DataFrame([(*row, source) for row in rows], schema=LABELS, orient="row")


def activity(*rows: tuple[str, datetime]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ACTIVE, orient="row")


def table(accounts: dict[str, tuple[float, float]], f1: float = 0.0) -> pl.DataFrame:
    """A feature table at one cut-off: account -> (orders in 90 days, lifetime orders); no
    attempts or sessions. An account with no orders in 90 days is not active (not scored)."""
    ids = list(accounts)
    return pl.DataFrame(
        {
            "account_id": ids,
            "orders_90d": [accounts[a][0] for a in ids],
            "payment_attempts_90d": [0.0] * len(ids),
            "sessions_90d": [None] * len(ids),
            "orders_lifetime": [accounts[a][1] for a in ids],
            "payment_attempts_lifetime": [0.0] * len(ids),
            "f1": [f1] * len(ids),
        },
        schema_overrides={"sessions_90d": pl.Float64},
    )


def in_force(frame: pl.DataFrame, t: datetime = T) -> list[tuple]:
    return labels_in_force(frame, t).sort("account_id").select("account_id", "label", "decided_at").rows()


def test_cutoffs_end_at_the_training_instant_oldest_first():
    cfg = TrainingConfig(cadence_days=7, history_days=21)

    assert cutoffs(T, cfg) == [T - 21 * DAY, T - 14 * DAY, T - 7 * DAY, T]


def test_an_account_labelled_early_and_still_active_is_drawn_at_later_cutoffs_with_its_label():
    # "a" was labelled abuse 40 days before T (a chargeback: it went on ordering). It is drawn at
    # every mature cut-off where it was active, before and after its label, each with y = 1.
    snaps = {
        c: table({"a": (3.0, 3.0 + i), "h": (1.0, 1.0)}, f1=float(i)) for i, c in enumerate(cutoffs(T, NO_UNLABELLED))
    }
    known = labels(("a", "abuse", T - 40 * DAY), ("h", "legit", T - 30 * DAY))
    active = activity(("a", T - 2 * DAY), ("h", T - 3 * DAY))

    got = draw_examples(snaps, known, active, T, NO_UNLABELLED)

    mature = [c for c in cutoffs(T, NO_UNLABELLED) if c <= T - 14 * DAY]
    a = got.filter(pl.col("account_id") == "a").sort("cutoff")
    assert a["cutoff"].to_list() == mature  # T-42 ... T-14: before and after its label, never younger
    assert set(a["y"]) == {1}
    assert a["decided_at"].to_list() == [T - 40 * DAY] * len(mature)
    assert set(got.filter(pl.col("account_id") == "h")["y"]) == {0}


def test_a_banned_account_is_not_drawn_after_its_ban():
    # "b" was labelled abuse 30 days before T and did nothing after: a ban. Its rows at cut-offs
    # after the ban (features of an account gone quiet) are not drawn; those up to it are.
    snaps = {c: table({"b": (4.0, 4.0), "h": (1.0, 1.0)}) for c in cutoffs(T, NO_UNLABELLED)}
    known = labels(("b", "abuse", T - 30 * DAY), ("h", "legit", T - 30 * DAY))
    active = activity(("b", T - 31 * DAY), ("h", T - DAY))

    got = draw_examples(snaps, known, active, T, NO_UNLABELLED)

    assert got.filter(pl.col("account_id") == "b")["cutoff"].to_list() == [T - 42 * DAY, T - 35 * DAY]
    # h is drawn where a positive is: a cut-off keeps the whole set's negative-to-positive ratio,
    # so when a row was drawn says nothing about its label (a cut-off without positives keeps none).
    assert got.filter(pl.col("account_id") == "h")["cutoff"].to_list() == [T - 42 * DAY, T - 35 * DAY]


def test_the_label_known_at_training_time_applies_and_later_ones_are_ignored():
    snaps = {c: table({"a": (2.0, 2.0), "c": (2.0, 2.0), "d": (2.0, 2.0)}) for c in cutoffs(T, NO_UNLABELLED)}
    known = labels(
        ("a", "abuse", T - 20 * DAY),
        ("a", "legit", T - 5 * DAY),  # cleared on appeal: legit is what training knows
        ("c", "abuse", T + DAY),  # decided after T: unknown, and here not drawn at all
        ("d", "abuse", T - DAY),  # decided yesterday: known, though younger than the maturity gap
    )
    active = activity(("a", T - DAY), ("c", T - DAY), ("d", T - DAY))

    got = draw_examples(snaps, known, active, T, NO_UNLABELLED)

    assert dict(got.group_by("account_id").agg(pl.col("y").max()).rows()) == {"a": 0, "d": 1}


def test_inactive_accounts_are_not_drawn_like_the_run_does_not_score_them():
    snaps = {c: table({"a": (0.0, 5.0), "h": (1.0, 1.0)}) for c in cutoffs(T, NO_UNLABELLED)}
    known = labels(("a", "abuse", T - 20 * DAY), ("h", "legit", T - 20 * DAY))

    got = draw_examples(snaps, known, activity(("a", T - DAY), ("h", T - DAY)), T, NO_UNLABELLED)

    assert set(got["account_id"]) == {"h"}


def test_a_labelled_accounts_rows_weigh_one_in_all_in_proportion_to_its_evidence():
    # "a" has 1, then 3 lifetime orders at two mature cut-offs: weights (1+1)/(2+4) and (3+1)/(2+4).
    snaps = {
        T - 7 * DAY: table({"a": (1.0, 3.0), "h": (1.0, 1.0)}),
        T - 14 * DAY: table({"a": (1.0, 1.0), "h": (1.0, 1.0)}),
    }
    cfg = TrainingConfig(cadence_days=7, history_days=14, maturity_days=7, unlabelled_weight=0.0)
    known = labels(("a", "abuse", T - 3 * DAY), ("h", "legit", T - 3 * DAY))

    got = draw_examples(snaps, known, activity(("a", T - DAY), ("h", T - DAY)), T, cfg)

    a = got.filter(pl.col("account_id") == "a").sort("cutoff")
    assert a["weight"].to_list() == pytest.approx([2 / 6, 4 / 6])
    # h's two rows (equal evidence) share its weight of 1, scaled to the same negative-to-positive
    # ratio at each cut-off (here 1:1 already).
    assert got.filter(pl.col("account_id") == "h")["weight"].sum() == pytest.approx(1.0)


def test_unlabelled_accounts_are_drawn_once_as_presumed_legit_with_their_weight():
    cfg = TrainingConfig(cadence_days=7, history_days=42, maturity_days=14, unlabelled_weight=0.2, seed=3)
    snaps = {c: table({"a": (1.0, 1.0), "u": (1.0, 1.0), "v": (1.0, 1.0)}) for c in cutoffs(T, cfg)}

    got = draw_examples(snaps, labels(("a", "abuse", T - 20 * DAY)), activity(("a", T - DAY)), T, cfg)

    presumed = got.filter(~pl.col("labelled"))
    assert sorted(presumed["account_id"]) == ["u", "v"]  # one row each
    assert set(presumed["y"]) == {0}
    assert (presumed["decided_at"] == presumed["cutoff"]).all()
    assert (presumed["cutoff"] <= T - 14 * DAY).all()
    again = draw_examples(snaps, labels(("a", "abuse", T - 20 * DAY)), activity(("a", T - DAY)), T, cfg)
    assert_frame_equal(got, again)  # deterministic for the seed


def test_at_most_the_configured_number_of_unlabelled_accounts_is_drawn():
    cfg = TrainingConfig(cadence_days=7, history_days=14, maturity_days=0, unlabelled_accounts=2)
    snaps = {c: table({x: (1.0, 1.0) for x in "abcdef"}) for c in cutoffs(T, cfg)}

    got = draw_examples(snaps, labels(("a", "abuse", T - 20 * DAY)), activity(("a", T - DAY)), T, cfg)

    assert got.filter(~pl.col("labelled"))["account_id"].n_unique() == 2


def test_without_a_mature_cutoff_there_is_nothing_to_draw():
    cfg = TrainingConfig(cadence_days=7, history_days=7, maturity_days=14)
    snaps = {c: table({"a": (1.0, 1.0)}) for c in cutoffs(T, cfg)}

    assert draw_examples(snaps, labels(("a", "abuse", T - DAY)), activity(), T, cfg).is_empty()


def test_stopped_at_is_the_first_abuse_decision_of_an_account_that_went_quiet():
    known = labels(
        ("quiet", "abuse", T - 10 * DAY),
        ("quiet", "abuse", T - 5 * DAY),  # a second review: the account stopped at the first
        ("active", "abuse", T - 10 * DAY),  # went on after its label (a chargeback)
        ("cleared", "abuse", T - 10 * DAY),
        ("cleared", "legit", T - 2 * DAY),  # in force: legit, so it was not stopped for abuse
        ("never", "abuse", T - 8 * DAY),  # no activity on record at all
    )
    last = activity(("quiet", T - 11 * DAY), ("active", T - DAY), ("cleared", T - 12 * DAY))

    got = stopped_at(known, last, T).sort("account_id").rows()

    assert got == [("never", T - 8 * DAY), ("quiet", T - 10 * DAY)]
    assert stopped_at(None, last, T).is_empty()


def test_balanced_by_cutoff_gives_every_cutoff_the_same_negative_to_positive_ratio():
    c1, c2 = T - 14 * DAY, T - 21 * DAY
    examples = pl.DataFrame(
        {
            "cutoff": [c1, c1, c1, c2, c2, c2],
            "y": [1, 0, 0, 1, 1, 0],
            "weight": [1.0, 1.0, 1.0, 1.0, 1.0, 4.0],
        },
        schema_overrides={"cutoff": UTC_US, "y": pl.Int8},
    )

    got = balanced_by_cutoff(examples)

    ratio = 6 / 3  # the whole set's negative weight over positive weight
    for cutoff, positive in [(c1, 1.0), (c2, 2.0)]:
        rows = got.filter(pl.col("cutoff") == cutoff)
        assert rows.filter(pl.col("y") == 0)["weight"].sum() == pytest.approx(ratio * positive)
        assert rows.filter(pl.col("y") == 1)["weight"].sum() == pytest.approx(positive)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.booleans(), st.integers(0, 60)), max_size=12))
def test_no_row_is_drawn_after_the_ban_of_an_account_that_stopped(decisions):
    """Invariant: whatever the decisions, an account whose label in force is abuse and that did
    nothing after its first abuse decision has no row at a cut-off after that decision."""
    known = labels(*[(a, "abuse" if abuse else "legit", T - days * DAY) for a, abuse, days in decisions])
    snaps = {c: table({x: (1.0, 1.0) for x in "abcd"}) for c in cutoffs(T, NO_UNLABELLED)}
    last = activity(*[(x, T - 61 * DAY) for x in "abcd"])  # nobody did anything after any label

    got = draw_examples(snaps, known, last, T, NO_UNLABELLED)

    stops = dict(stopped_at(known, last, T).rows())
    for account, cutoff in got.select("account_id", "cutoff").rows():
        assert account not in stops or cutoff <= stops[account]
    assert set(got["account_id"]) <= set(known["account_id"])


def test_merge_labels_puts_verdicts_beside_the_snapshot_labels():
    snapshot = labels(("a", "legit", T - 10 * DAY), ("b", "abuse", T - 9 * DAY)).with_columns(extra=pl.lit(1))
    verdicts = labels(("a", "abuse", T - 3 * DAY), source="review")

    merged = merge_labels(snapshot, verdicts)

    assert merged.columns == ["account_id", "label", "decided_at", "source"]
    assert in_force(merged) == [("a", "abuse", T - 3 * DAY), ("b", "abuse", T - 9 * DAY)]  # the later verdict wins
    assert_frame_equal(merge_labels(snapshot, None), snapshot.drop("extra"))
    assert_frame_equal(merge_labels(None, verdicts), verdicts)
    assert merge_labels(None, None) is None
