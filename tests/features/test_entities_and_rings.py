"""features.entities and features.rings: links between accounts and the devices, cards, addresses and networks they use,
how widely each is shared (others only, never the account itself), and rings of linked accounts."""

from __future__ import annotations

import networkx as nx
import polars as pl
import pytest
from feature_frames import DAY, HOUR, US, T, accounts, attempts, by_account, labels, orders, sessions
from polars.testing import assert_frame_equal

import features.rings
from features.entities import account_facts, entities, entity_links, entity_stats, known_abusers
from features.rings import ring_graph, ring_links, ring_membership, rings
from features.time import known_at

LINK_SCHEMA = {"account_id": pl.String, "kind": pl.String, "entity_id": pl.String}
HISTORY_COLUMNS = (
    "orders_lifetime",
    "buyer_cancels_lifetime",
    "unpaid_timeouts_lifetime",
    "flash_orders_lifetime",
    "fast_buyer_cancels_lifetime",
    "discount_on_buyer_cancels_usd_lifetime",
)


def links_of(*triples: tuple[str, str, str]) -> pl.DataFrame:
    """(account_id, kind, entity_id) links, as entity_links returns them."""
    return pl.DataFrame(triples, schema=LINK_SCHEMA, orient="row").sort("kind", "entity_id", "account_id")


def history_of(**per_account: tuple[int, ...]) -> pl.DataFrame:
    """The order-history columns the graph pools: orders, buyer cancels, unpaid timeouts, flash
    orders, fast buyer cancels, discount on buyer cancels (the last two 0 unless given)."""
    rows = [(acc, *counts, *[0] * (len(HISTORY_COLUMNS) - len(counts))) for acc, counts in per_account.items()]
    return pl.DataFrame(
        rows, schema={"account_id": pl.String} | dict.fromkeys(HISTORY_COLUMNS, pl.UInt32), orient="row"
    )


def facts_of(acc: pl.DataFrame, history: pl.DataFrame | None = None, label_rows: pl.DataFrame | None = None, t=T):
    """account_facts as build_features makes them: labels cut at t before deciding who is in force."""
    history = history_of() if history is None else history
    known = known_abusers(None if label_rows is None else known_at("labels", label_rows, t), acc, t)
    return account_facts(acc, history, known, t)


def ring_of(acc: pl.DataFrame, links: pl.DataFrame) -> dict[str, str]:
    """{account_id: ring_id} for the accounts in a ring."""
    found = ring_membership(acc, ring_links(links, entity_stats(links, facts_of(acc))))
    return dict(found.iter_rows())


# -- links -------------------------------------------------------------------------------------


def test_entity_links_from_orders_attempts_and_sessions():
    tables = {
        "orders": orders(
            dict(
                account_id="a",
                device_id="d1",
                payment_instrument_id="k1",
                address_id="ad1",
                ip_prefix="n1",
                paid_at=T - DAY,
            ),
            dict(account_id="a", device_id="d1"),  # the same device again, and nulls: nothing new
            dict(account_id="b", device_id="d1", address_id="ad1"),
        ),
        "payment_attempts": attempts(
            dict(account_id="a", instrument_id="k1"),  # also the card of a's paid order
            dict(account_id="a", instrument_id="k2", succeeded=False),  # a card tried and declined still links
            dict(account_id="b", instrument_id="k3"),
        ),
        "sessions": sessions(
            dict(account_id="a", device_id="d2", ip_prefix="n1"), dict(account_id="c", device_id="d1")
        ),
        "accounts": accounts(dict(account_id="z")),  # tables that hold no entity are ignored
    }
    expected = links_of(
        ("a", "address", "ad1"),
        ("b", "address", "ad1"),
        ("a", "card", "k1"),
        ("a", "card", "k2"),
        ("b", "card", "k3"),
        ("a", "device", "d1"),
        ("b", "device", "d1"),
        ("c", "device", "d1"),
        ("a", "device", "d2"),
        ("a", "net", "n1"),
    )
    assert_frame_equal(entity_links(tables), expected)


def test_entity_links_without_sessions():
    tables = {
        "orders": orders(dict(device_id="d1")),
        "payment_attempts": attempts(dict(instrument_id="k1")),
        "sessions": None,
    }
    assert_frame_equal(entity_links(tables), links_of(("a", "card", "k1"), ("a", "device", "d1")))


# -- labels in force ---------------------------------------------------------------------------


def test_the_latest_label_decided_before_t_is_in_force():
    acc = accounts(*[dict(account_id=a) for a in "abcde"])
    given = labels(
        dict(account_id="a", label="abuse", decided_at=T - 5 * DAY),
        dict(account_id="b", label="abuse", decided_at=T),  # decided at t: not yet known
        dict(account_id="c", label="abuse", decided_at=T - 10 * DAY),
        dict(account_id="c", label="legit", decided_at=T - 2 * DAY),  # cleared later
        dict(account_id="d", label="legit", decided_at=T - 10 * DAY),
        dict(account_id="d", label="abuse", decided_at=T - US),  # confirmed later
    )
    got = known_abusers(known_at("labels", given, T), acc, T)
    assert dict(got.iter_rows()) == {"a": True, "b": False, "c": False, "d": True, "e": False}
    assert dict(known_abusers(None, acc, T).iter_rows()) == dict.fromkeys("abcde", False)


# -- entity figures and sharing ----------------------------------------------------------------

SHARING_ACCOUNTS = accounts(
    dict(account_id="A", created_at=T - 100 * DAY),
    dict(account_id="B", created_at=T - 10 * DAY),  # new
    dict(account_id="C", created_at=T - 5 * DAY),  # new
    dict(account_id="D", created_at=T - 200 * DAY),
)
# device d1: A, B, C; card k1: A alone; address ad1: A, D; net n1: B, C
SHARING_LINKS = links_of(
    ("A", "device", "d1"),
    ("B", "device", "d1"),
    ("C", "device", "d1"),
    ("A", "card", "k1"),
    ("A", "address", "ad1"),
    ("D", "address", "ad1"),
    ("B", "net", "n1"),
    ("C", "net", "n1"),
)
SHARING_HISTORY = history_of(A=(10, 5, 1, 2), B=(2, 0, 0, 0), D=(4, 4, 0, 0))  # C has no orders
SHARING_LABELS = labels(
    dict(account_id="A", decided_at=T - 5 * DAY),  # abuse, in force
    dict(account_id="B", decided_at=T),  # abuse, decided at t: not in force at t
    dict(account_id="D", decided_at=T - DAY),  # abuse, in force
)


def sharing_at(t=T) -> dict[str, dict]:
    facts = facts_of(SHARING_ACCOUNTS, SHARING_HISTORY, SHARING_LABELS, t)
    return by_account(entities(SHARING_LINKS, entity_stats(SHARING_LINKS, facts), facts))


def test_entity_stats():
    facts = facts_of(SHARING_ACCOUNTS, SHARING_HISTORY, SHARING_LABELS)
    got = entity_stats(SHARING_LINKS, facts).sort("kind", "entity_id")
    expected = pl.DataFrame(
        [
            ("address", "ad1", 2, 0, 14, 9, 2),  # A and D, both old, both known abusers
            ("card", "k1", 1, 0, 10, 5, 1),
            ("device", "d1", 3, 2, 12, 5, 1),  # B's label is decided at t: not counted
            ("net", "n1", 2, 2, 2, 0, 0),
        ],
        schema=["kind", "entity_id", "accounts", "new_accounts", "orders", "buyer_cancels", "abusers"],
        orient="row",
    )
    assert_frame_equal(got, expected, check_dtypes=False)


def test_sharing_counts_only_the_other_accounts():
    got = sharing_at()
    a, b, c, d = (got[x] for x in "ABCD")
    # A's device d1 is shared with B and C: new others 2; their orders 2, buyer cancels 0
    assert (a["devices_used"], a["max_accounts_per_device"], a["max_new_others_per_device"]) == (1, 3, 2)
    assert a["max_others_buyer_cancel_rate_device"] == pytest.approx((0 + 0.32) / (2 + 4))
    assert (b["max_new_others_per_device"], c["max_new_others_per_device"]) == (1, 1)  # each other, not themselves
    assert b["max_others_buyer_cancel_rate_device"] == pytest.approx((5 + 0.32) / (10 + 4))  # A and C
    assert c["max_others_buyer_cancel_rate_device"] == pytest.approx((5 + 0.32) / (12 + 4))  # A and B
    # A's card is its own: one account, no others, so no others' rate and no abuser share
    assert (a["cards_used"], a["max_accounts_per_card"], a["max_new_others_per_card"]) == (1, 1, 0)
    assert (a["max_others_buyer_cancel_rate_card"], a["max_known_abuser_share_card"]) == (None, 0.0)
    # address ad1: A sees D (4 orders, 4 cancels), D sees A
    assert a["addresses_used"] == 1
    assert a["max_others_buyer_cancel_rate_address"] == pytest.approx((4 + 0.32) / (4 + 4))
    assert d["max_others_buyer_cancel_rate_address"] == pytest.approx((5 + 0.32) / (10 + 4))
    # no link of a kind: nothing (build_features fills 0 or the prior)
    assert (a["nets_used"], a["max_accounts_per_net"], a["max_known_abuser_share_net"]) == (0, None, None)


def test_known_abuser_share_is_of_the_other_accounts_never_the_own_label():
    got = sharing_at()
    # d1: A is the only abuser in force. A sees B and C (0 of 2); B and C each see A (1 of 2)
    assert {x: got[x]["max_known_abuser_share_device"] for x in "ABC"} == {"A": 0.0, "B": 0.5, "C": 0.5}
    # ad1: A and D are both abusers, and each sees the other
    assert (got["A"]["max_known_abuser_share_address"], got["D"]["max_known_abuser_share_address"]) == (1.0, 1.0)


@pytest.mark.parametrize(
    ("t", "share"), [(T, 0.0), (T + US, 1.0)], ids=["label-decided-at-t", "label-decided-before-t"]
)
def test_a_label_is_in_force_only_once_decided_before_t(t, share):
    # C shares the net n1 with B only; B's abuse label is decided exactly at T
    assert sharing_at(t)["C"]["max_known_abuser_share_net"] == share


# -- rings -------------------------------------------------------------------------------------

RING_ACCOUNTS = accounts(
    dict(account_id="A", created_at=T - 50 * DAY),
    dict(account_id="B", created_at=T - 10 * DAY),
    dict(account_id="C", created_at=T - 60 * DAY),  # the first of A, B, C to register
    dict(account_id="D", created_at=T - 300 * DAY),
    dict(account_id="E", created_at=T - 400 * DAY),
    dict(account_id="F", created_at=T - 20 * DAY),
)
# A-B share a device, B-C a card; D is alone on its device; E-F share only a network prefix
RING_LINKS = [
    ("A", "device", "d1"),
    ("B", "device", "d1"),
    ("B", "card", "k1"),
    ("C", "card", "k1"),
    ("D", "device", "d9"),
    ("E", "net", "n1"),
    ("F", "net", "n1"),
]


def test_rings_are_accounts_linked_through_devices_cards_and_addresses():
    # C is the founder: registered first (not first by name)
    assert ring_of(RING_ACCOUNTS, links_of(*RING_LINKS)) == {"A": "R-C", "B": "R-C", "C": "R-C"}


def test_ring_ids_are_reproducible():
    first = ring_membership(
        RING_ACCOUNTS, ring_links(links_of(*RING_LINKS), entity_stats(links_of(*RING_LINKS), facts_of(RING_ACCOUNTS)))
    )
    shuffled_accounts, shuffled_links = RING_ACCOUNTS.reverse(), links_of(*RING_LINKS).reverse()
    second = ring_membership(
        shuffled_accounts, ring_links(shuffled_links, entity_stats(shuffled_links, facts_of(shuffled_accounts)))
    )
    assert_frame_equal(first.sort("account_id"), second.sort("account_id"))


def test_the_founder_of_a_tie_is_the_first_account_id():
    acc = accounts(dict(account_id="y", created_at=T - DAY), dict(account_id="x", created_at=T - DAY))
    assert ring_of(acc, links_of(("y", "address", "ad1"), ("x", "address", "ad1"))) == {"x": "R-x", "y": "R-x"}


def test_a_ring_keeps_its_id_when_a_newer_account_joins():
    newcomer = pl.concat([RING_ACCOUNTS, accounts(dict(account_id="G", created_at=T - HOUR))])
    got = ring_of(newcomer, links_of(*RING_LINKS, ("G", "device", "d1")))
    assert got == {"A": "R-C", "B": "R-C", "C": "R-C", "G": "R-C"}


def test_merging_rings_take_the_older_founders_id():
    acc = pl.concat(
        [
            RING_ACCOUNTS,
            accounts(
                dict(account_id="P", created_at=T - 100 * DAY),
                dict(account_id="Q", created_at=T - 2 * DAY),
                dict(account_id="M", created_at=T - HOUR),
            ),
        ]
    )
    apart = [*RING_LINKS, ("P", "address", "ad9"), ("Q", "address", "ad9")]
    assert ring_of(acc, links_of(*apart)) == {"A": "R-C", "B": "R-C", "C": "R-C", "P": "R-P", "Q": "R-P"}
    # M uses B's device and P's address: one ring, named after P (registered before C)
    merged = ring_of(acc, links_of(*apart, ("M", "device", "d1"), ("M", "address", "ad9")))
    assert merged == dict.fromkeys("ABCMPQ", "R-P")


@pytest.mark.parametrize(("sharers", "ringed"), [(2, True), (3, False)], ids=["at-cap", "over-cap"])
def test_an_entity_shared_by_more_accounts_than_its_cap_does_not_link(monkeypatch, sharers, ringed):
    monkeypatch.setitem(features.rings.RING_CAPS, "device", 2)
    acc = accounts(*[dict(account_id=x) for x in "abc"])
    links = links_of(*[(x, "device", "kiosk") for x in "abc"[:sharers]])
    assert ring_of(acc, links) == (dict.fromkeys("abc"[:sharers], "R-a") if ringed else {})
    # the entity figures still show the sharing
    facts = facts_of(acc)
    assert by_account(entities(links, entity_stats(links, facts), facts))["a"]["max_accounts_per_device"] == sharers


def test_no_links_no_rings():
    assert ring_of(RING_ACCOUNTS, links_of()) == {}


def test_ring_profile():
    links = links_of(*RING_LINKS)
    strong = ring_links(links, entity_stats(links, facts_of(RING_ACCOUNTS)))
    ring = ring_membership(RING_ACCOUNTS, strong)
    facts = facts_of(RING_ACCOUNTS, history_of(A=(10, 5, 1, 2, 3, 12), B=(2, 0, 0, 0)), labels(dict(account_id="A")))
    got = by_account(rings(ring, facts, links, strong))
    pooled = dict(
        ring_id="R-C",
        ring_size=3,
        ring_new_account_share=pytest.approx(1 / 3),  # B, registered 10 days ago
        ring_age_spread_days=50.0,  # C 60 days ago, B 10 days ago
        ring_buyer_cancel_rate=pytest.approx((5 + 4 * 0.08) / (12 + 4)),
        ring_unpaid_timeout_rate=pytest.approx((1 + 4 * 0.02) / (12 + 4)),
        ring_flash_order_share=pytest.approx(2 / 12),
        ring_fast_cancel_share=pytest.approx((3 + 4 * 0.2) / (5 + 4)),
        ring_discount_on_cancels_usd_per_account=pytest.approx(12 / 3),
        ring_shared_devices=1,  # d1 (A, B)
        ring_shared_cards=1,  # k1 (B, C)
        ring_shared_addresses=0,
        ring_devices_per_account=pytest.approx(2 / 3),  # A and B have d1, C no device
    )
    # A is a known abuser: B and C see one abuser among their two others, A sees none
    assert got == {
        "A": dict(account_id="A", **pooled, ring_known_abuser_share=0.0),
        "B": dict(account_id="B", **pooled, ring_known_abuser_share=0.5),
        "C": dict(account_id="C", **pooled, ring_known_abuser_share=0.5),
    }


def test_ring_graph_holds_the_members_and_what_at_least_two_of_them_share():
    links = links_of(
        ("A", "device", "d1"),
        ("B", "device", "d1"),
        ("X", "device", "d1"),  # X is not a member
        ("B", "card", "k1"),
        ("C", "card", "k1"),
        ("A", "net", "n1"),
        ("C", "net", "n1"),  # a network prefix never builds a ring, but is shown
        ("A", "device", "d2"),  # A's alone: not shown
        ("X", "address", "ad1"),
        ("A", "address", "ad1"),  # shared with a non-member only: not shown
    )
    g = ring_graph(links, ["A", "B", "C"])
    assert isinstance(g, nx.Graph)
    assert dict(g.nodes(data="kind")) == {
        "A": "account",
        "B": "account",
        "C": "account",
        "device:d1": "device",
        "card:k1": "card",
        "net:n1": "net",
    }
    assert {frozenset(e) for e in g.edges} == {
        frozenset(e)
        for e in [
            ("device:d1", "A"),
            ("device:d1", "B"),
            ("card:k1", "B"),
            ("card:k1", "C"),
            ("net:n1", "A"),
            ("net:n1", "C"),
        ]
    }
