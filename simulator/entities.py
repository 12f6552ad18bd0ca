"""The entities accounts use: devices, shipping addresses, payment cards and network prefixes.

Each pool maps an account to its list of entity ids. Households and rings share entities
inside their group; everyone shares network prefixes with neighbours and carriers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.params import COUNTRIES, HONEST, PATTERNS, P, Patterns
from simulator.population import Accounts


@dataclass(frozen=True)
class Pools:
    """Per-account entity lists in CSR form: entity ids of account a are ids[ptr[a]:ptr[a+1]]."""

    ptr: np.ndarray
    ids: np.ndarray

    def pick(self, rng: np.random.Generator, accounts: np.ndarray) -> np.ndarray:
        """One entity per row, uniformly from each row's account's list; -1 where it is empty."""
        start, size = self.ptr[accounts], self.ptr[accounts + 1] - self.ptr[accounts]
        offset = (rng.random(len(accounts)) * size).astype(np.int64)
        return np.where(size > 0, self.ids[np.minimum(start + offset, len(self.ids) - 1)], -1)

    def first(self, accounts: np.ndarray) -> np.ndarray:
        size = self.ptr[accounts + 1] - self.ptr[accounts]
        return np.where(size > 0, self.ids[np.minimum(self.ptr[accounts], len(self.ids) - 1)], -1)


def _group_members(accounts: Accounts, pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """Accounts of `pattern` sorted by group, and the position of each group's first member."""
    members = np.flatnonzero(accounts.pattern == P[pattern])
    members = members[np.argsort(accounts.group[members], kind="stable")]
    firsts = np.flatnonzero(np.r_[True, np.diff(accounts.group[members]) != 0]) if len(members) else members
    return members, firsts


def _per_group(rng: np.random.Generator, accounts: Accounts, pattern: str, lo: int, hi: int):
    """For each group of `pattern`: members, group index of each member, and a count in [lo, hi]."""
    members, firsts = _group_members(accounts, pattern)
    group_of = np.cumsum(np.isin(np.arange(len(members)), firsts)) - 1
    counts = rng.integers(lo, hi + 1, size=len(firsts))
    return members, group_of, counts


class _PoolBuilder:
    """Collects (account, entity) pairs; new entities are numbered as they are made."""

    def __init__(self) -> None:
        self.accounts: list[np.ndarray] = []
        self.entities: list[np.ndarray] = []
        self.count = 0

    def new(self, size: int) -> np.ndarray:
        ids = np.arange(self.count, self.count + size, dtype=np.int64)
        self.count += size
        return ids

    def add(self, accounts: np.ndarray, entities: np.ndarray) -> None:
        self.accounts.append(np.asarray(accounts, dtype=np.int64))
        self.entities.append(np.asarray(entities, dtype=np.int64))

    def personal(self, accounts: np.ndarray, counts: np.ndarray) -> None:
        """Give each account `counts[i]` entities of its own."""
        counts = np.asarray(counts, dtype=np.int64)
        self.add(np.repeat(accounts, counts), self.new(int(counts.sum())))

    def shared(
        self,
        rng: np.random.Generator,
        accounts: Accounts,
        pattern: str,
        per_group: tuple[int, int],
        per_member: int,
        share: float = 1.0,
    ) -> None:
        """Give each group of `pattern` a set of shared entities; each member gets `per_member` of them."""
        members, group_of, counts = _per_group(rng, accounts, pattern, *per_group)
        if not len(members):
            return
        # A fraction `share` of the groups share at all.
        sharing = rng.random(len(counts)) < share
        counts = np.where(sharing, counts, 0)
        if not counts.sum():
            return
        base = self.new(int(counts.sum()))
        offsets = np.r_[0, np.cumsum(counts)[:-1]]
        for _ in range(per_member):
            pick = (rng.random(len(members)) * counts[group_of]).astype(np.int64)
            has = counts[group_of] > 0
            self.add(members[has], base[np.minimum(offsets[group_of] + pick, len(base) - 1)][has])

    def build(self, n_accounts: int) -> Pools:
        acc = np.concatenate(self.accounts) if self.accounts else np.zeros(0, np.int64)
        ent = np.concatenate(self.entities) if self.entities else np.zeros(0, np.int64)
        order = np.argsort(acc, kind="stable")
        ptr = np.zeros(n_accounts + 1, dtype=np.int64)
        np.cumsum(np.bincount(acc, minlength=n_accounts), out=ptr[1:])
        return Pools(ptr, ent[order])


def entity_pools(rng: np.random.Generator, acc: Accounts, patterns: Patterns) -> dict[str, Pools]:
    """Devices, shipping addresses, payment instruments and network prefixes per account."""
    n, all_acc = acc.n, np.arange(acc.n)
    is_p = {name: acc.pattern == P[name] for name in PATTERNS}
    own_range = patterns.own_entities

    def own(pool: str, pattern: str) -> np.ndarray:
        lo, hi = own_range[pool][pattern]
        return rng.integers(lo, hi + 1, n)

    def share_in_groups(builder: _PoolBuilder, pool: str) -> None:
        for pattern, per_group, per_member, share in patterns.shared_entities[pool]:
            builder.shared(rng, acc, pattern, per_group, per_member, share=share)

    dev = _PoolBuilder()
    count = 1 + (rng.random(n) < 0.35)
    count = np.where(is_p["coupon_ring"], own("device", "coupon_ring"), count)  # rotating devices
    count = np.where(is_p["hoarding_ring"] | is_p["account_farm"], (rng.random(n) < 0.3).astype(int), count)
    dev.personal(all_acc, count)
    share_in_groups(dev, "device")
    # Shared public devices (internet cafes, shop kiosks): a few, each used by many buyers.
    cafe_users = all_acc[(acc.pattern < len(HONEST)) & (rng.random(n) < 0.004)]
    cafes = dev.new(max(1, n // 40_000))
    dev.add(cafe_users, rng.choice(cafes, len(cafe_users)))

    addr = _PoolBuilder()
    count = np.where(is_p["heavy_buyer"], own("address", "heavy_buyer"), 1)
    count = np.where(is_p["household"] & (rng.random(n) < 0.8), 0, count)
    count = np.where(is_p["hoarding_ring"] | is_p["account_farm"], 0, count)
    addr.personal(all_acc, count)
    share_in_groups(addr, "address")

    card = _PoolBuilder()
    count = 1 + (rng.random(n) < 0.3)
    count = np.where(is_p["heavy_buyer"], own("card", "heavy_buyer"), count)
    count = np.where(is_p["card_trouble"], own("card", "card_trouble"), count)
    count = np.where(is_p["card_testing"], own("card", "card_testing"), count)
    count = np.where(is_p["coupon_ring"], (rng.random(n) < 0.3).astype(int), count)
    card.personal(all_acc, count)
    share_in_groups(card, "card")

    # Network prefixes: a home prefix shared with neighbours, and for half the buyers one of
    # three mobile carrier prefixes per country (carrier-grade NAT: huge sharing).
    net = _PoolBuilder()
    residential = max(1, n // 25)
    home = acc.country.astype(np.int64) * residential + rng.integers(0, residential, n)
    net.add(all_acc, net.new(len(COUNTRIES) * residential)[home])
    carriers = net.new(len(COUNTRIES) * 3)
    mobile = rng.random(n) < 0.5
    net.add(all_acc[mobile], carriers[acc.country[mobile] * 3 + rng.integers(0, 3, int(mobile.sum()))])
    share_in_groups(net, "net")
    rotating = is_p["coupon_ring"]
    net.personal(all_acc[rotating], np.full(int(rotating.sum()), 3))
    return {"device": dev.build(n), "address": addr.build(n), "card": card.build(n), "net": net.build(n)}
