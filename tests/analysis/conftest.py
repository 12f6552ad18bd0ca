"""A review table holding one day's queue of three accounts, two of them in one ring."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline import review_db

from .frames import AS_OF, reasons


@pytest.fixture
def review(tmp_path):
    engine = review_db.connect(f"sqlite:///{tmp_path / 'review.db'}")
    review_db.write_queue(
        engine,
        AS_OF,
        pd.DataFrame(
            {
                "account_id": ["m1", "m2", "m5"],
                "score": [0.9, 0.8, 0.7],
                "rank": [1, 2, 4],
                "model_version": "buyer-abuse/1",
                "reasons": [
                    reasons("fast_buyer_cancels_30d", ring=("R-m1", 5)),
                    reasons("account_age_days", ring=("R-m1", 5)),
                    reasons("failed_payment_share_30d"),
                ],
                "ring_id": ["R-m1", "R-m1", None],
            }
        ),
    )
    return engine
