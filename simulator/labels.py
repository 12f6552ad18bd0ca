"""Labels as review outcomes: which accounts were decided abuse or legit, when, by which
source, and the bans that confirmed abuse brings, as the market's LabelProcess says."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.params import DAY, NEVER, LabelDelay, LabelProcess, MarketConfig, P
from simulator.population import Accounts


@dataclass(frozen=True)
class Labels:
    """One entry per label row (an account may have two: a verdict and its correction)."""

    account: np.ndarray  # int64 account index
    abuse: np.ndarray  # bool: the verdict is abuse
    decided: np.ndarray  # int64 seconds from the market start, before its end
    source: np.ndarray  # int index into params.SOURCES


def _seconds(days: float) -> int:
    return round(days * DAY)


def label_delays(rng: np.random.Generator, delay: LabelDelay, n: int) -> np.ndarray:
    """`n` delays in whole seconds: the minimum, a uniform jitter, and the tail."""
    lo = _seconds(delay.min_days)
    base = rng.integers(lo, lo + max(_seconds(delay.jitter_days), 1), n)
    if delay.tail == "exponential":
        tail = rng.exponential(delay.tail_days * DAY, n)
    else:
        tail = rng.lognormal(np.log(delay.tail_days * DAY), delay.sigma, n)
    return base + tail.astype(np.int64)


def review_labels(rng: np.random.Generator, cfg: MarketConfig, acc: Accounts, first_abuse: np.ndarray) -> Labels:
    """Review outcomes: who was labelled what, when (only decisions before the market's end).
    `first_abuse`: population.abuse_onset, where label delays count from."""
    lp: LabelProcess = cfg.label_process
    end, n = cfg.days * DAY, acc.n
    abuser = acc.is_abuser
    onset = np.where(abuser, first_abuse, 0)
    # Abusers: reviewed with some probability, decided after a delay from their first abuse.
    reviewed = abuser & (rng.random(n) < lp.coverage)
    decided = onset + label_delays(rng, lp.delay, n)
    # Ring takedowns: when one member is decided, ring-mates may be decided with it.
    grouped = abuser & (acc.group >= 0)
    first_decision = np.full(acc.group.max() + 2, np.iinfo(np.int64).max)
    np.minimum.at(first_decision, acc.group[reviewed & grouped], decided[reviewed & grouped])
    swept = grouped & ~reviewed & (first_decision[np.maximum(acc.group, 0)] < end) & (rng.random(n) < lp.ring_takedown)
    # (a ring-mate registered after the takedown began is decided once its own abuse is seen;
    # only swept members use this, so the wrap-around of a group never decided does no harm)
    lag = rng.integers(0, max(_seconds(lp.takedown_lag_days), 1), n)
    with np.errstate(over="ignore"):
        swept_at = np.maximum(first_decision[np.maximum(acc.group, 0)] + lag, onset + _seconds(lp.delay.min_days))
    decided = np.where(swept, swept_at, decided)
    reviewed |= swept
    # Honest accounts: look-alikes are reviewed more often; they are cleared unless noise says otherwise.
    honest_review = np.where(acc.pattern == P["regular"], lp.regular_review, lp.lookalike_review)
    reviewed |= ~abuser & (rng.random(n) < honest_review)
    honest_at = rng.integers(14 * DAY, max(end, 15 * DAY), n)
    decided = np.where(abuser, decided, np.maximum(honest_at, np.maximum(acc.created, 0) + 7 * DAY))
    # Some verdicts are wrong, in either direction; some of those are corrected later.
    wrong = reviewed & (rng.random(n) < np.where(abuser, lp.false_legit, lp.false_abuse))
    verdict_abuse = abuser ^ wrong
    in_market = reviewed & (decided < end)
    who = np.flatnonzero(in_market)
    label_abuse = verdict_abuse[who]
    at = decided[who]
    fix = wrong[who] & (rng.random(len(who)) < lp.corrected)
    fix_lo, fix_hi = (_seconds(d) for d in lp.correction_days)
    fix_at = at[fix] + rng.integers(fix_lo, fix_hi, int(fix.sum()))
    fix_keep = fix_at < end
    accounts = np.r_[who, who[fix][fix_keep]]
    labels = np.r_[label_abuse, ~label_abuse[fix][fix_keep]]
    decided_at = np.r_[at, fix_at[fix_keep]]
    chargeback = np.isin(acc.pattern[accounts], [P[p] for p in lp.chargeback_patterns]) & (
        rng.random(len(accounts)) < lp.chargeback_share
    )
    source = np.where(chargeback & labels, 1, np.where(rng.random(len(accounts)) < lp.policy_share, 2, 0))
    return Labels(accounts, labels, decided_at, source)


def bans(labels: Labels, n_accounts: int, process: LabelProcess) -> np.ndarray:
    """Per account, the second from which it is banned: its first abuse label when the label
    process bans (NEVER otherwise, and for accounts never labelled abuse). A banned account
    places no order and starts no session from then on."""
    ban = np.full(n_accounts, NEVER, dtype=np.int64)
    if process.bans:
        np.minimum.at(ban, labels.account[labels.abuse], labels.decided[labels.abuse])
    return ban
