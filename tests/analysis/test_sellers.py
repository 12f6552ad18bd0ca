"""One seller's cancellations over time as the review app draws them, and a run made before the
seller exposure existed."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from pipeline.analysis.sellers import SELLER_COLOURS, seller_exposure, seller_page, seller_timeline_plot
from pipeline.errors import InputError


def test_the_timeline_stacks_each_days_cancellations_by_cause_abuse_driven_first_and_hatched():
    timeline = pd.DataFrame(
        {
            "day": [date(2026, 3, 1), date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 2)],
            "cause": ["abuse", "buyer", "abuse", "seller"],
            "cancellations": [2, 5, 1, 3],
        }
    )

    fig = seller_timeline_plot(timeline)

    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["abuse-driven", "by buyer, not abuse-driven", "by seller"]
    assert [list(t.y) for t in fig.data] == [[2, 1], [5, 0], [0, 3]]  # a cause absent on a day: 0
    assert [t.marker.color for t in fig.data] == [SELLER_COLOURS[c] for c in ("abuse", "buyer", "seller")]
    assert [t.marker.pattern.shape for t in fig.data] == ["/", "", ""]


@pytest.mark.parametrize("read", [seller_exposure, lambda run: seller_page(run, "s1")])
def test_a_run_without_the_seller_tables_is_an_input_error_saying_to_run_it_again(tmp_path, read):
    with pytest.raises(InputError, match=r"has no seller exposure \(.*parquet\).*run that date again"):
        read(tmp_path)
