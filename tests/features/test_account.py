"""features.account.account: age, verification and how new the accounts on an e-mail domain are."""

from __future__ import annotations

import pytest
from feature_frames import DAY, HOUR, US, T, accounts, by_account

from features.account import NEW_ACCOUNT_DAYS, account


def profile(*rows: dict) -> dict[str, dict]:
    return by_account(account(accounts(*rows), T))


def test_account_columns():
    got = profile(
        dict(account_id="a", created_at=T - 10 * DAY - 12 * HOUR, email_domain="gmail.com", phone_verified=True),
        dict(account_id="b", created_at=T - 40 * DAY, email_domain="gmail.com", phone_verified=None),
        dict(account_id="c", created_at=T - DAY, email_domain=None, phone_verified=False),
        dict(account_id="d", created_at=T - 5 * DAY, email_domain="corp.example", phone_verified=True),
    )
    assert got == {
        # gmail.com: a is new, b is not -> (1 + 0.1) / (2 + 1)
        "a": dict(
            account_id="a",
            account_age_days=10.5,
            phone_verified=1.0,
            email_domain_missing=0.0,
            email_domain_new_share=pytest.approx(1.1 / 3),
        ),
        "b": dict(
            account_id="b",
            account_age_days=40.0,
            phone_verified=None,
            email_domain_missing=0.0,
            email_domain_new_share=pytest.approx(1.1 / 3),
        ),
        # no domain: nothing to pool, the share is unknown rather than zero
        "c": dict(
            account_id="c",
            account_age_days=1.0,
            phone_verified=0.0,
            email_domain_missing=1.0,
            email_domain_new_share=None,
        ),
        "d": dict(
            account_id="d",
            account_age_days=5.0,
            phone_verified=1.0,
            email_domain_missing=0.0,
            email_domain_new_share=pytest.approx(1.1 / 2),
        ),
    }


def test_unknown_phone_verification_stays_unknown():
    got = account(accounts(dict(account_id="a", phone_verified=None)), T)
    assert got["phone_verified"].to_list() == [None]


@pytest.mark.parametrize(("age", "new"), [(30 * DAY - US, 1), (30 * DAY, 1), (30 * DAY + US, 0)])
def test_new_means_registered_in_the_last_30_days(age, new):
    assert NEW_ACCOUNT_DAYS == 30
    got = profile(dict(account_id="a", created_at=T - age, email_domain="x.example"))
    assert got["a"]["email_domain_new_share"] == pytest.approx((new + 0.1) / (1 + 1))


def test_every_account_given_is_profiled_once():
    got = profile(*[dict(account_id=a, email_domain="gmail.com") for a in "abc"])
    assert sorted(got) == ["a", "b", "c"]
    assert got["a"]["email_domain_new_share"] == pytest.approx(0.1 / 4)  # three old accounts
