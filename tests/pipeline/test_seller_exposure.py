"""The seller_exposure table of the review database, on SQLite and PostgreSQL: a date's rows are
replaced as a whole (re-runs are idempotent), other dates are left alone, nulls round-trip, and
a bad frame or a lost run lock writes nothing."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import polars as pl
import pytest

from contract.outputs import SELLER_EXPOSURE
from pipeline import review_db
from pipeline.errors import ReviewDbError, RunLocked

DAY = date(2026, 3, 31)
NEXT = date(2026, 4, 1)
INTEGERS = [c.name for c in SELLER_EXPOSURE if c.type == "integer" and c.name != "target_rank"]


def exposure(*sellers: dict) -> pl.DataFrame:
    """Rows of models.sellers.seller_exposure: dull counts, rates 0.25 (0.1-0.5), no reasons."""
    base = {name: 0 for name in INTEGERS} | {
        "orders": 4,
        "cancellations": 1,
        "cancel_rate": 0.25,
        "cancel_rate_low": 0.1,
        "cancel_rate_high": 0.5,
        "corrected_cancel_rate": 0.25,
        "corrected_rate_low": 0.1,
        "corrected_rate_high": 0.5,
        "flash_abused_share": None,
        "target_score": 0.0,
        "target_rank": None,
        "reasons": "[]",
    }
    schema = {"seller_id": pl.String, **{name: type(value) for name, value in base.items()}}
    schema |= {
        "flash_abused_share": pl.Float64,
        "target_rank": pl.Int64,
        "corrected_cancel_rate": pl.Float64,
        "corrected_rate_low": pl.Float64,
        "corrected_rate_high": pl.Float64,
    }
    return pl.DataFrame([base | s for s in sellers], schema=schema)


def stored(engine, day: date | None = None) -> list[tuple]:
    rows = review_db.read_seller_exposure(engine, day)
    return list(rows[["as_of", "seller_id", "abuse_cancels", "target_rank"]].itertuples(index=False, name=None))


def test_a_rerun_of_a_date_replaces_its_rows_and_leaves_other_dates_alone(review_url):
    engine = review_db.connect(review_url)
    hit = dict(seller_id="s1", abuse_cancels=3, target_score=2.5, target_rank=1, reasons=json.dumps([{"text": "x"}]))
    first = exposure(hit, dict(seller_id="s2"), dict(seller_id="s3"))
    assert review_db.write_seller_exposure(engine, DAY, first) == 3
    review_db.write_seller_exposure(engine, NEXT, exposure(dict(seller_id="s9")))
    before = review_db.read_seller_exposure(engine, DAY)

    review_db.write_seller_exposure(engine, DAY, first)  # the same run again: the same table
    assert review_db.read_seller_exposure(engine, DAY).equals(before)

    review_db.write_seller_exposure(engine, DAY, exposure(hit, dict(seller_id="s3")))  # s2 had no cancel this time
    assert stored(engine, DAY) == [(DAY, "s1", 3, 1), (DAY, "s3", 0, pd.NA)]
    assert stored(engine, NEXT) == [(NEXT, "s9", 0, pd.NA)]
    assert [d for d, *_ in stored(engine)] == [DAY, DAY, NEXT]
    engine.dispose()


def test_nulls_and_nan_round_trip_as_nulls(review_url):
    engine = review_db.connect(review_url)
    frame = exposure(dict(seller_id="s1", orders=1, cancellations=1, abuse_cancels=1)).with_columns(
        corrected_cancel_rate=pl.lit(float("nan")), corrected_rate_low=None, corrected_rate_high=None
    )
    review_db.write_seller_exposure(engine, DAY, frame)
    row = review_db.read_seller_exposure(engine, DAY).iloc[0]
    assert row["corrected_cancel_rate"] != row["corrected_cancel_rate"]  # NaN in pandas: SQL null
    assert row["reasons"] == "[]" and row["orders"] == 1
    engine.dispose()


def test_a_bad_frame_or_a_lost_lock_writes_nothing(review_url):
    engine = review_db.connect(review_url)
    review_db.write_seller_exposure(engine, DAY, exposure(dict(seller_id="s1")))
    with pytest.raises(ReviewDbError, match=r"missing column.*target_score"):
        review_db.write_seller_exposure(engine, DAY, exposure(dict(seller_id="s2")).drop("target_score"))
    with pytest.raises(ReviewDbError, match="seller_id repeated"):
        review_db.write_seller_exposure(engine, DAY, exposure(dict(seller_id="s2"), dict(seller_id="s2")))
    with pytest.raises(RunLocked, match="seller exposure not written"):
        review_db.write_seller_exposure(engine, DAY, exposure(dict(seller_id="s2")), lock="a run that ended")
    assert [s for _, s, *_ in stored(engine, DAY)] == ["s1"]
    engine.dispose()
