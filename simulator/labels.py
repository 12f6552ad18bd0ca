"""Labels as review outcomes: which accounts were decided abuse or legit, when, by which
source, and the bans that confirmed abuse brings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.params import DAY, NEVER, MarketConfig, P
from simulator.population import Accounts


@dataclass(frozen=True)
class Labels:
    """One entry per label row (an account may have two: a verdict and its correction)."""

    account: np.ndarray  # int64 account index
    abuse: np.ndarray  # bool: the verdict is abuse
    decided: np.ndarray  # int64 seconds from the market start, before its end
    source: np.ndarray  # int index into ("review", "chargeback", "policy")


def review_labels(rng: np.random.Generator, cfg: MarketConfig, acc: Accounts) -> Labels:
    """Review outcomes: who was labelled what, when (only decisions before the market's end)."""
    end, n = cfg.days * DAY, acc.n
    abuser = acc.is_abuser
    abuse_start = np.maximum(acc.created, 0) + rng.integers(0, 5 * DAY, n)
    # Abusers: reviewed with some probability, decided 5-25 days after their abuse began.
    reviewed = abuser & (rng.random(n) < 0.25)
    decided = abuse_start + rng.integers(5 * DAY, 12 * DAY, n) + rng.exponential(20 * DAY, n).astype(np.int64)
    # Ring takedowns: when one member is decided, each ring-mate is decided with it half the time.
    grouped = abuser & (acc.group >= 0)
    first_decision = np.full(acc.group.max() + 2, np.iinfo(np.int64).max)
    np.minimum.at(first_decision, acc.group[reviewed & grouped], decided[reviewed & grouped])
    swept = grouped & ~reviewed & (first_decision[np.maximum(acc.group, 0)] < end) & (rng.random(n) < 0.4)
    # (a ring-mate registered after the takedown began is decided once its own abuse is seen)
    swept_at = np.maximum(first_decision[np.maximum(acc.group, 0)] + rng.integers(0, DAY, n), abuse_start + 5 * DAY)
    decided = np.where(swept, swept_at, decided)
    reviewed |= swept
    # Honest accounts: look-alikes are reviewed more often; all of them are cleared.
    honest_review = np.where(acc.pattern == P["regular"], 0.005, 0.06)
    reviewed |= ~abuser & (rng.random(n) < honest_review)
    honest_at = rng.integers(14 * DAY, max(end, 15 * DAY), n)
    decided = np.where(abuser, decided, np.maximum(honest_at, np.maximum(acc.created, 0) + 7 * DAY))
    # A few verdicts are wrong in both directions; some of those are corrected later.
    wrong = reviewed & (rng.random(n) < 0.03)
    verdict_abuse = abuser ^ wrong
    in_market = reviewed & (decided < end)
    who = np.flatnonzero(in_market)
    label_abuse = verdict_abuse[who]
    at = decided[who]
    fix = wrong[who] & (rng.random(len(who)) < 0.3)
    fix_at = at[fix] + rng.integers(10 * DAY, 20 * DAY, int(fix.sum()))
    fix_keep = fix_at < end
    accounts = np.r_[who, who[fix][fix_keep]]
    labels = np.r_[label_abuse, ~label_abuse[fix][fix_keep]]
    decided_at = np.r_[at, fix_at[fix_keep]]
    chargeback = np.isin(acc.pattern[accounts], [P["card_testing"], P["coupon_ring"]]) & (
        rng.random(len(accounts)) < 0.5
    )
    source = np.where(chargeback & labels, 1, np.where(rng.random(len(accounts)) < 0.1, 2, 0))
    return Labels(accounts, labels, decided_at, source)


def bans(labels: Labels, n_accounts: int) -> np.ndarray:
    """Per account, the second from which it is banned: its first abuse verdict (NEVER if none).
    A confirmed abuser places no order, attempt or session after it."""
    ban = np.full(n_accounts, NEVER, dtype=np.int64)
    np.minimum.at(ban, labels.account[labels.abuse], labels.decided[labels.abuse])
    return ban
