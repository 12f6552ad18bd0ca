"""The interface every layer shares: input tables, value sets, outputs (docs/data_contract.md).

``contract.values`` holds the value sets (cancel initiators, labels, review statuses),
``contract.tables`` the input tables (pandera models, keys, event times, foreign keys) and
``contract.outputs`` the tables and files the pipeline writes. No I/O; nothing here imports
another package of the project. ``docs/data_contract.md`` is generated from these modules.
"""
