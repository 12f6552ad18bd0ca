"""pipeline.analysis.rings: each ring member's status, by precedence."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from pipeline import analysis, review_db
from pipeline.analysis.style import STATUS_COLOURS

from .frames import AS_OF, H, T, market


def test_member_status_without_any_decision_or_label(review):
    got = analysis.member_status(review, market([]), AS_OF, ["m2", "m4"])
    assert got["status"].tolist() == ["open", "not queued"]
    assert got["reviewed_at"].isna().all() and got["label"].isna().all()


def test_member_status_prefers_a_decision_then_todays_queue_then_a_label(review):
    review_db.record_verdict(review, "m1", AS_OF, "confirmed_abuse", "ana", note="farm")
    labels = [
        dict(account_id="m3", label="abuse", decided_at=T - 100 * H, source="chargeback"),
        dict(account_id="m5", label="legit", decided_at=T - 100 * H, source="review"),
        dict(account_id="m4", label="abuse", decided_at=T + H, source="review"),  # decided after the day: not in force
    ]
    got = analysis.member_status(review, market([], labels), AS_OF, ["m1", "m2", "m3", "m4", "m5"])
    assert got[["account_id", "status"]].values.tolist() == [
        ["m1", "confirmed_abuse"],
        ["m2", "open"],
        ["m3", "labelled abuse"],
        ["m4", "not queued"],
        ["m5", "open"],
    ]
    assert got.loc[0, ["reviewed_by", "note"]].tolist() == ["ana", "farm"]
    assert got.loc[2, "label_source"] == "chargeback"
    assert got["rank"].tolist()[:2] == [1, 2] and got["rank"].isna().tolist()[2:4] == [True, True]


def test_the_interactive_ring_graph_names_each_account_and_colours_it_by_status():
    graph = nx.Graph()
    graph.add_nodes_from(["m1", "m2", "m3"], kind="account")
    graph.add_nodes_from(["d1"], kind="device")
    graph.add_nodes_from(["c1"], kind="card")
    graph.add_edges_from([("m1", "d1"), ("m2", "d1"), ("m2", "c1"), ("m3", "c1")])
    status = pd.DataFrame({"account_id": ["m1", "m2", "m3"], "status": ["confirmed_abuse", "open", "open"]})

    fig = analysis.ring_plot(graph, status, focus="m2", title="Ring R-m1")

    accounts = {t.name: t for t in fig.data if t.customdata is not None}
    assert set(accounts) == {"confirmed_abuse (1)", "open (2)"}
    assert list(accounts["open (2)"].customdata) == ["m2", "m3"]  # what a click opens
    assert accounts["confirmed_abuse (1)"].marker.color == STATUS_COLOURS["confirmed_abuse"]
    assert {t.name for t in fig.data if t.name} >= {"shared device", "shared card"}
    # The same layout as the notebook's figure.
    layout = analysis.ring_layout(graph)
    trace = accounts["open (2)"]
    assert (trace.x[0], trace.y[0]) == tuple(layout["m2"])
