"""The account itself: age at t, verification, and how new the accounts on its e-mail domain are.

Input: accounts known at ``t``. Output: one row per account_id.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from features.columns import Feature, Unit

NEW_ACCOUNT_DAYS = 30  # an account registered this recently is "new" (here and in the graph)


def is_new(t: datetime) -> pl.Expr:
    """True for an account registered in the NEW_ACCOUNT_DAYS before t."""
    return pl.col("created_at") >= t - timedelta(days=NEW_ACCOUNT_DAYS)


def account_columns() -> list[Feature]:
    return [
        Feature(
            "account_age_days",
            "account",
            "as of t",
            Unit.DAYS,
            "days from registration to t",
            lambda t: (t - pl.col("created_at")).dt.total_seconds() / 86_400,
            fill=None,
        ),
        Feature(
            "phone_verified",
            "account",
            "as of t",
            Unit.FLAG,
            "phone verified (null when unknown)",
            pl.col("phone_verified").cast(pl.Float64),
            fill=None,
            needs=("phone",),
        ),
        Feature(
            "email_domain_missing",
            "account",
            "as of t",
            Unit.FLAG,
            "no e-mail domain on the profile",
            pl.col("email_domain").is_null().cast(pl.Float64),
            needs=("email_domains",),
        ),
        Feature(
            "email_domain_new_share",
            "account",
            "as of t",
            Unit.SHARE,
            f"share of the accounts on the same e-mail domain registered in the last {NEW_ACCOUNT_DAYS} days",
            pl.col("domain_new_share"),
            fill=None,
            needs=("email_domains",),
        ),
    ]


def account(accounts: pl.DataFrame, t: datetime) -> pl.DataFrame:
    """Account columns for every account known at t (e-mail domains pool every account given)."""
    domains = accounts.group_by("email_domain").agg(domain_new_share=(is_new(t).sum() + 0.1) / (pl.len() + 1))
    return accounts.join(domains, on="email_domain", how="left", nulls_equal=False).select(
        "account_id", *[f.at(t) for f in account_columns()]
    )
