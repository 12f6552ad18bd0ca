"""Which kinds of evidence a snapshot holds at all, so that a feature it cannot know is null.

A marketplace may export no sessions, no device fingerprints, no payment attempts, no e-mail
domains, no campaigns. A count over a source that is absent is not zero, it is unknown: the
columns that need a missing source (``Feature.needs``) are null for every account, the model
learns from this market what that means, and the run names the missing sources.
"""

from __future__ import annotations

import polars as pl

# Each source: the (table, column) pairs that hold it; present when any of them has a value.
SOURCES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "attempts": (("payment_attempts", None),),
    "sessions": (("sessions", None),),
    "labels": (("labels", None),),
    "devices": (("orders", "device_id"), ("sessions", "device_id")),
    "cards": (("orders", "payment_instrument_id"), ("payment_attempts", "instrument_id")),
    "addresses": (("orders", "address_id"),),
    "networks": (("orders", "ip_prefix"), ("sessions", "ip_prefix")),
    "campaigns": (("orders", "campaign_id"),),
    "email_domains": (("accounts", "email_domain"),),
    "phone": (("accounts", "phone_verified"),),
}
# What links accounts into rings: rings are unknown when none of these is present.
LINKS = ("devices", "cards", "addresses")


def present_sources(tables: dict[str, pl.LazyFrame | pl.DataFrame | None]) -> set[str]:
    """The sources with at least one value among the given tables (as known at the instant).
    A table that is given counts as present even when empty of rows before the instant:
    "no labels yet" is knowledge, a missing table is not."""
    found = set()
    for source, places in SOURCES.items():
        for table, column in places:
            frame = tables.get(table)
            if frame is None:
                continue
            if column is None:
                if table in ("sessions", "labels") or _has_rows(frame):
                    found.add(source)
                    break
            elif _has_rows(frame.lazy().select(column).drop_nulls()):
                found.add(source)
                break
    if found & set(LINKS):
        found.add("links")
    return found


def _has_rows(frame: pl.LazyFrame | pl.DataFrame) -> bool:
    return frame.lazy().head(1).collect().height > 0
