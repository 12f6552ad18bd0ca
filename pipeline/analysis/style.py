"""Colours the figures share, so that a status reads the same in every plot."""

from __future__ import annotations

# A queue row's status (contract.values.REVIEW_STATUSES), then what a ring member who is not
# queued that day can be (pipeline.analysis.rings.member_status).
STATUS_COLOURS = {
    "open": "#f2c12e",
    "confirmed_abuse": "#d62728",
    "cleared": "#2ca02c",
    "escalated": "#9467bd",
    "labelled abuse": "#7f0000",
    "labelled legit": "#98df8a",
    "not queued": "#d9d9d9",
}
