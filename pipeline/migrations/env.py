"""Alembic environment of the review database.

Migrations run on the connection ``pipeline.review_db.connect`` hands over (in
``config.attributes["connection"]``), inside its transaction, after it has taken the schema
lock: concurrent first uses of a new database wait for each other instead of racing. Running
``alembic`` by hand is only for writing new revisions (``alembic.ini`` beside this file).
"""

from __future__ import annotations

from alembic import context

from pipeline.review_db import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # authoring (`alembic revision`): no database is touched
    context.configure(url="sqlite://", target_metadata=metadata, version_table=VERSION_TABLE)
else:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
with context.begin_transaction():
    context.run_migrations()
