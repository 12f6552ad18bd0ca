"""Everything with a side effect: reading and validating snapshots, the execution engine, run
directories, the review database, the MLflow registry, typed settings, the `buyer-abuse` CLI
and the analysts' API (docs/architecture.md)."""

import os

# MLflow has telemetry built in: off for this package (CLI, notebooks, scripts) unless the
# environment turns it on. Set before MLflow is first imported.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
