"""Alembic migrations of the review database (``pipeline.review_db.connect`` runs them).

Shipped inside the package so that an installed wheel can upgrade a database. Each revision in
``versions/`` is one step of the schema; ``review_db.connect`` creates a new database at the
head revision, upgrades an older one, and refuses a newer or a foreign one. A new revision:
copy the latest file in ``versions/``, give it the next number as ``revision`` and the latest
as ``down_revision``, write ``upgrade()``, set ``review_schema.version`` to its number, and bump
``review_db.SCHEMA_VERSION``; ``alembic -c pipeline/migrations/alembic.ini revision -m "..."``
writes the skeleton.
"""
