"""Rings: which ring an account is in, its members, the entities they share, and each member's status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import polars as pl
import sqlalchemy as sa
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from features.entities import entity_links
from features.rings import ring_graph
from features.time import as_of_end, known_at
from models.dataset import labels_in_force
from pipeline import review_db
from pipeline.analysis.locations import Data, Day, as_date, review_engine, snapshot
from pipeline.analysis.style import STATUS_COLOURS

ENTITY_MARKERS = {"device": "s", "card": "D", "address": "^", "net": "v"}
RING_KINDS = ("device", "card", "address")  # what links a ring: network prefixes never do (features.rings)


def ring_of(run: str | Path, account_id: str) -> str | None:
    """The account's ring_id in the run's feature table, or None outside a ring."""
    table = pl.read_parquet(Path(run) / "features.parquet", columns=["account_id", "ring_id"])
    found = table.filter(pl.col("account_id") == account_id)
    return None if found.is_empty() else found["ring_id"][0]


def ring_members(run: str | Path, ring_id: str) -> list[str]:
    """The accounts of `ring_id` in the run's feature table (as the run built the rings), sorted."""
    table = pl.read_parquet(Path(run) / "features.parquet", columns=["account_id", "ring_id"])
    return sorted(table.filter(pl.col("ring_id") == ring_id)["account_id"].to_list())


def ring_graph_for(data: Data, as_of: Day, members: Sequence[str], kinds: Sequence[str] = RING_KINDS) -> nx.Graph:
    """The ring as a bipartite networkx graph (``features.rings.ring_graph``): `members` and the
    entities of `kinds` (default devices, cards, addresses: what links rings) at least two of
    them share, from the rows known at the end of `as_of` only."""
    snap, t = snapshot(data), as_of_end(as_date(as_of))
    tables = {"orders": snap.orders, "payment_attempts": snap.payment_attempts, "sessions": snap.sessions}
    # Cutting to the members first gives the same member links as cutting afterwards, much faster.
    view = {
        name: None if frame is None else known_at(name, frame.filter(pl.col("account_id").is_in(list(members))), t)
        for name, frame in tables.items()
    }
    links = entity_links(view).filter(pl.col("kind").is_in(list(kinds)))
    return ring_graph(links, list(members))


def member_status(review: str | sa.Engine, data: Data, as_of: Day, members: Sequence[str]) -> pd.DataFrame:
    """Per member, in the order given: `status` and the evidence behind it, by precedence:
    the latest analyst's decision on any queue row up to `as_of` (confirmed_abuse, cleared,
    escalated), "open" when queued on `as_of`, a snapshot label in force at the end of
    `as_of` ("labelled abuse", "labelled legit"), else "not queued". Columns account_id,
    status, rank and score (on `as_of`; NaN when not queued), queued_on (the date of the
    decided row), reviewed_by, reviewed_at, note, label, label_source."""
    day, members = as_date(as_of), list(members)
    rows = review_db.read_queue(review_engine(review))
    rows = rows[rows["account_id"].isin(members) & (rows["as_of"] <= day)]
    decided = (
        rows[rows["status"] != "open"].sort_values(["reviewed_at", "as_of"]).drop_duplicates("account_id", keep="last")
    )
    decided = decided.set_index("account_id")
    today = rows[rows["as_of"] == day].set_index("account_id")
    labels = _labels_in_force_with_source(snapshot(data).labels, members, as_of_end(day))

    def of(column: pd.Series) -> np.ndarray:  # by member; `column`'s index (account_id) is unique
        return column.reindex(members).to_numpy()

    out = pd.DataFrame(
        {
            "account_id": members,
            "decision": of(decided["status"]),
            "rank": of(today["rank"]),
            "score": of(today["score"]),
            "queued_on": of(decided["as_of"]),
            "reviewed_by": of(decided["reviewed_by"]),
            "reviewed_at": of(decided["reviewed_at"]),
            "note": of(decided["note"]),
            "label": of(labels["label"]),
            "label_source": of(labels["source"]),
        }
    )
    status = np.select(
        [out["decision"].notna(), out["rank"].notna(), out["label"].eq("abuse"), out["label"].eq("legit")],
        [out["decision"].astype(object), "open", "labelled abuse", "labelled legit"],
        default="not queued",
    )
    return out.drop(columns="decision").assign(status=status.astype(str))[
        [
            "account_id",
            "status",
            "rank",
            "score",
            "queued_on",
            "reviewed_by",
            "reviewed_at",
            "note",
            "label",
            "label_source",
        ]
    ]


def _labels_in_force_with_source(labels: pl.DataFrame | None, members: list[str], t: datetime) -> pd.DataFrame:
    """label, decided_at and source of each member's label in force at t (models.dataset), indexed by account_id."""
    if labels is None:
        return pd.DataFrame(columns=["label", "decided_at", "source"], index=pd.Index([], name="account_id"))
    mine = labels.filter(pl.col("account_id").is_in(members))
    in_force = labels_in_force(mine, t).join(
        mine.select("account_id", "label", "decided_at", "source"), on=["account_id", "label", "decided_at"], how="left"
    )
    return in_force.unique("account_id", keep="first").to_pandas().set_index("account_id")


def ring_layout(graph: nx.Graph) -> dict[str, tuple[float, float]]:
    """Where each node of a ring graph is drawn (a seeded spring layout): the same picture in
    the notebook's figure and the review app's interactive one."""
    return nx.spring_layout(graph, seed=0, k=1.2 / np.sqrt(max(graph.number_of_nodes(), 1)))


def ring_figure(graph: nx.Graph, status: pd.DataFrame, focus: str | None = None, title: str | None = None) -> Figure:
    """The ring drawn: accounts as circles coloured by `status` (a `member_status` frame), the
    shared entities as grey markers by kind, `focus` ringed in black."""
    fig = Figure(figsize=(11, 8.5), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title or "Ring", fontsize=13)
    if graph.number_of_nodes() == 0:
        return fig
    pos = ring_layout(graph)
    nx.draw_networkx_edges(graph, pos, ax=ax, edge_color="#b0b0b0", width=0.8)
    of = dict(zip(status["account_id"], status["status"], strict=True))
    accounts = [n for n, d in graph.nodes(data=True) if d["kind"] == "account"]
    nx.draw_networkx_nodes(
        graph,
        pos,
        nodelist=accounts,
        ax=ax,
        node_size=[420 if n == focus else 220 for n in accounts],
        node_color=[STATUS_COLOURS.get(of.get(n, "not queued"), "white") for n in accounts],
        edgecolors=["black" if n == focus else "#555555" for n in accounts],
        linewidths=[2.5 if n == focus else 0.6 for n in accounts],
    )
    above = {n: (x, y + 0.045) for n, (x, y) in pos.items()}  # names just above their circles
    nx.draw_networkx_labels(
        graph, above, labels={n: n for n in accounts}, ax=ax, font_size=7, verticalalignment="bottom"
    )
    kinds_present = []
    for kind, marker in ENTITY_MARKERS.items():
        nodes = [n for n, d in graph.nodes(data=True) if d["kind"] == kind]
        if nodes:
            kinds_present.append(kind)
            nx.draw_networkx_nodes(
                graph, pos, nodelist=nodes, ax=ax, node_shape=marker, node_size=70, node_color="#606060"
            )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            markersize=9,
            markerfacecolor=STATUS_COLOURS[s],
            markeredgecolor="#555555",
            label=f"{s} ({list(of.values()).count(s)})",
        )
        for s in STATUS_COLOURS
        if s in of.values()
    ]
    handles += [
        Line2D([], [], marker=ENTITY_MARKERS[k], ls="", markersize=7, color="#606060", label=f"shared {k}")
        for k in kinds_present
    ]
    if focus is not None:
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                markersize=11,
                markerfacecolor="white",
                markeredgecolor="black",
                markeredgewidth=2.5,
                label=f"{focus} (investigated)",
            )
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=9, title="account status / entity")
    return fig


# plotly's markers for the entity kinds, the same shapes as ENTITY_MARKERS.
_PLOTLY_MARKERS = {"device": "square", "card": "diamond", "address": "triangle-up", "net": "triangle-down"}


def ring_plot(graph: nx.Graph, status: pd.DataFrame, focus: str | None = None, title: str | None = None):
    """`ring_figure` as an interactive plotly figure (the review app's ring graph): the same
    layout and colours; hovering names a node, and each account's `customdata` is its id, for a
    page to open on click. Legend entries: one per status present, one per entity kind."""
    import plotly.graph_objects as go  # only the app and notebooks that want it pay the import

    pos = ring_layout(graph) if graph.number_of_nodes() else {}
    fig = go.Figure()
    edges_x, edges_y = [], []
    for a, b in graph.edges():
        edges_x += [pos[a][0], pos[b][0], None]
        edges_y += [pos[a][1], pos[b][1], None]
    fig.add_trace(
        go.Scatter(
            x=edges_x,
            y=edges_y,
            mode="lines",
            line={"color": "#b0b0b0", "width": 1},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    for kind, marker in _PLOTLY_MARKERS.items():
        nodes = [n for n, d in graph.nodes(data=True) if d["kind"] == kind]
        if nodes:
            fig.add_trace(
                go.Scatter(
                    x=[pos[n][0] for n in nodes],
                    y=[pos[n][1] for n in nodes],
                    mode="markers",
                    marker={"symbol": marker, "size": 9, "color": "#606060"},
                    text=[f"shared {kind} {n}" for n in nodes],
                    hoverinfo="text",
                    name=f"shared {kind}",
                )
            )
    of = dict(zip(status["account_id"], status["status"], strict=True))
    accounts = [n for n, d in graph.nodes(data=True) if d["kind"] == "account"]
    for state, colour in STATUS_COLOURS.items():
        nodes = [n for n in accounts if of.get(n, "not queued") == state]
        if not nodes:
            continue
        fig.add_trace(
            go.Scatter(
                x=[pos[n][0] for n in nodes],
                y=[pos[n][1] for n in nodes],
                mode="markers+text",
                marker={
                    "size": [22 if n == focus else 15 for n in nodes],
                    "color": colour,
                    "line": {
                        "color": ["black" if n == focus else "#555555" for n in nodes],
                        "width": [3 if n == focus else 1 for n in nodes],
                    },
                },
                text=nodes,
                textposition="top center",
                textfont={"size": 11},
                customdata=nodes,
                hovertemplate="%{customdata}: " + state + "<extra></extra>",
                name=f"{state} ({len(nodes)})",
            )
        )
    fig.update_layout(
        title={"text": title or "Ring", "x": 0.01},
        showlegend=True,
        legend={"title": {"text": "account status / entity"}, "x": 1.02, "y": 1, "xanchor": "left"},
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        plot_bgcolor="white",
        hovermode="closest",
    )
    return fig
