"""Everything with a side effect: reading snapshots, run directories, the review database,
the MLflow registry and the ``buyer-abuse`` command line."""
