"""The package API the analysts' notebooks call: small readers and plots, pandas at the edges.

Everything here reads what the batch job already wrote (the snapshot, a run directory, the
review table, the MLflow store) and re-uses the package's own functions for anything the job
computes: point-in-time views (``features.time.known_at``), order stages
(``features.history.order_facts``), entity links and ring graphs (``features.entities``,
``features.rings``), labels in force (``models.dataset``), naive baselines and slice rates
(``models.evaluate``). Nothing the batch job needs lives here, and nothing here writes, except
``record_verdict`` (the review table's own function, re-exported) and the artefacts MLflow
downloads into a temporary folder (``registry.load``, used for feature importance, would also
create the project's experiment in a tracking store that has none).

Frames come out as pandas; figures as matplotlib ``Figure`` objects that are *not* registered
with pyplot, so a notebook shows each exactly once, as the value of its cell.

One module per subject, every public name re-exported here (``analysis.queue(...)``):

- ``locations``: paths, URLs, run directories; loading the snapshot, labels and truth;
- ``queue``: the review queue of a day, its filters and reasons;
- ``account``: one account's orders over time and its features against the population;
- ``rings``: an account's ring, its members, what they share and each member's status, drawn
  as a figure or (``ring_plot``, the review app's) an interactive plotly graph;
- ``model_report``: registered versions, their metrics and plots, feature importance;
- ``sellers``: each seller's exposure to suspects' cancellations, the sellers they target, one seller's page
  and (``seller_timeline_plot``, the review app's) its cancellations over time as a plotly figure;
- ``truth``: a run judged against a simulator's truth.
"""

from __future__ import annotations

from contract.values import REVIEW_STATUSES as STATUSES
from pipeline.analysis import locations
from pipeline.analysis.account import (
    account_orders,
    account_payments,
    feature_percentiles,
    percentile_figure,
    timeline_figure,
)
from pipeline.analysis.locations import labels_at, review_engine, run_as_of, run_dir, run_summary, snapshot, sqlite_url
from pipeline.analysis.model_report import (
    feature_importance,
    importance_figure,
    logged_plots,
    metrics_figure,
    model_versions,
)
from pipeline.analysis.queue import (
    export_rows,
    filter_queue,
    queue,
    queue_csv,
    queue_figure,
    reason_counts,
    reasons_table,
)
from pipeline.analysis.rings import (
    member_status,
    ring_figure,
    ring_graph_for,
    ring_layout,
    ring_members,
    ring_of,
    ring_plot,
)
from pipeline.analysis.sellers import (
    seller_cancellations,
    seller_exposure,
    seller_page,
    seller_timeline_plot,
    sellers_figure,
)
from pipeline.analysis.truth import (
    abusers_to_find,
    lookalike_fp_share,
    pattern_recall,
    ranked_population,
    slices_figure,
    truth_pr_figures,
)
from pipeline.review_db import record_verdict  # re-exported: notebooks record verdicts through the package

# `truth` names both a module of this package and the function that reads a truth file.
# Importing a submodule sets the package attribute of its name, so the function is bound after
# every import. (`queue` needs nothing: its own import statement binds the function last.)
truth = locations.truth

__all__ = [
    "STATUSES",
    "abusers_to_find",
    "account_orders",
    "account_payments",
    "export_rows",
    "feature_importance",
    "feature_percentiles",
    "filter_queue",
    "importance_figure",
    "labels_at",
    "logged_plots",
    "lookalike_fp_share",
    "member_status",
    "metrics_figure",
    "model_versions",
    "pattern_recall",
    "percentile_figure",
    "queue",
    "queue_csv",
    "queue_figure",
    "ranked_population",
    "reason_counts",
    "reasons_table",
    "record_verdict",
    "review_engine",
    "ring_figure",
    "ring_graph_for",
    "ring_layout",
    "ring_members",
    "ring_of",
    "ring_plot",
    "run_as_of",
    "run_dir",
    "run_summary",
    "seller_cancellations",
    "seller_exposure",
    "seller_page",
    "seller_timeline_plot",
    "sellers_figure",
    "slices_figure",
    "snapshot",
    "sqlite_url",
    "timeline_figure",
    "truth",
    "truth_pr_figures",
]
