"""Everything with a side effect: reading and validating snapshots, the execution engine, run
directories, the review database, the MLflow registry, typed settings, the `buyer-abuse` CLI
and the analysts' API (docs/architecture.md)."""

import os
import warnings

# MLflow has telemetry built in: off for this package (CLI, notebooks, scripts) unless the
# environment turns it on. Set before MLflow is first imported.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

# PySpark (the spark extra) warns, when imported, that it does not fully support pandas 3. It is
# imported by pandera whenever it is installed, so every command would print it on stderr, which
# carries only the one line of a failure. The engine uses PySpark's Arrow paths and MLflow's
# pandas UDF, whose results the parity tests compare with the local engine's.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
