"""The review table analysts work from (docs/data_contract.md section 2).

``review_queue`` holds one row per flagged account per scoring date. The batch
run writes each date's queue with :func:`write_queue`; analysts record their
decisions with :func:`record_verdict`; the next training run reads them back as
labels with :func:`verdicts`. Re-running a date replaces its scores but never an
analyst's status, reviewer, time or note.

The database is given as a SQLAlchemy URL (``Settings.review_db``: by default the SQLite file
``review.db`` in the working directory); PostgreSQL is the production target
(``postgresql+psycopg://user:password@host:5432/dbname``). Those are the two
backends supported: writes use their ``INSERT ... ON CONFLICT``. Timestamps come
back as timezone-aware UTC from both; SQLite, which has no time-zone type, stores
them as UTC.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import threading
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import sqlalchemy as sa
import tenacity
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from contract.outputs import (
    CLAIMS,
    CLAIMS_TABLE,
    QUEUE_COLUMNS,
    REVIEW_EVENTS,
    REVIEW_EVENTS_TABLE,
    REVIEW_QUEUE,
    REVIEW_QUEUE_TABLE,
    SELLER_EXPOSURE,
    SELLER_EXPOSURE_TABLE,
    Column,
)
from contract.values import CASE_ACTIONS, LABEL_OF_STATUS, REVIEW_STATUSES, CaseAction, ReviewStatus
from pipeline.errors import CaseConflict, ReviewDbError, ReviewDbUnavailable, RunLocked

log = logging.getLogger("buyer_abuse")

# `review_schema.version` written by the head migration; a database recording a larger one was
# written by a newer buyer-abuse and is refused. Every revision in pipeline/migrations bumps it.
SCHEMA_VERSION = 4
MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic's bookkeeping table, named for this application so that another application's
# Alembic in the same database is never mistaken for ours (nor ours for theirs).
VERSION_TABLE = "review_alembic_version"
BASELINE = "0001"  # the revision equal to the schema buyer-abuse created before Alembic (version 1)
# PostgreSQL advisory lock held while the schema is created or upgraded (any fixed 64-bit key).
_SCHEMA_LOCK = zlib.crc32(b"buyer-abuse review schema")
# Connection attempts before a database that does not answer is given up on, and the first wait
# between them in seconds (doubling: 0.5, 1, 2, ...). The CLI retries; a library caller chooses.
CONNECT_ATTEMPTS = 4
RETRY_WAIT = 0.5
_SQLITE_BUSY_SECONDS = 30  # how long a SQLite writer waits for another one before giving up
# A run lock lasts this long unless its holder renews it (every quarter of it while the run goes
# on): a run killed on another host blocks its date for at most this long.
LOCK_TTL = timedelta(minutes=10)
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}  # backends with INSERT ... ON CONFLICT
_DELETE_BATCH = 500  # keys per DELETE ... IN (...), well below SQLite's bound-parameter limit


def _utc(moment: datetime) -> datetime:
    """The same instant as an aware UTC datetime; a naive one is read as UTC, as everywhere in the contract."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UtcDateTime(sa.TypeDecorator):
    """A timestamp that is written from any datetime and always read back as an aware UTC datetime.

    PostgreSQL stores ``timestamptz``. SQLite has no time-zone type: the instant is stored
    as naive UTC text, whose string order is then also time order (``reviewed_at <= until``).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return _utc(value).replace(tzinfo=None) if dialect.name == "sqlite" else _utc(value)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else _utc(value)


metadata = sa.MetaData()

# The contract's portable column types; Float is double precision on PostgreSQL, REAL (8 bytes) on SQLite.
SQL_TYPES = {"text": sa.Text, "date": sa.Date, "real": sa.Float, "integer": sa.Integer, "timestamp": UtcDateTime}


def _columns(columns: tuple[Column, ...], **server_defaults: str) -> list[sa.Column]:
    """SQL columns of a contract declaration (contract.outputs)."""
    return [
        sa.Column(
            c.name,
            SQL_TYPES[c.type],
            primary_key=c.key,
            nullable=c.nullable,
            server_default=server_defaults.get(c.name),
        )
        for c in columns
    ]


review_queue = sa.Table(
    REVIEW_QUEUE_TABLE,
    metadata,
    *_columns(REVIEW_QUEUE, status=ReviewStatus.OPEN.value),
    sa.CheckConstraint("score >= 0 AND score <= 1", name="review_queue_score_range"),
    sa.CheckConstraint("rank >= 1", name="review_queue_rank_positive"),
    sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in REVIEW_STATUSES)})", name="review_queue_status"),
)

review_schema = sa.Table(
    "review_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
)

# One nightly run per scoring date per review database (`run_lock`); revision 0002.
run_locks = sa.Table(
    "run_locks",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False),  # who holds it, in words: user, host, process, run directory
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)

# The case history (revision 0003): every claim, release and verdict, appended, never changed.
review_events = sa.Table(
    REVIEW_EVENTS_TABLE,
    metadata,
    *_columns(REVIEW_EVENTS),
    sa.CheckConstraint(f"action IN ({', '.join(repr(a) for a in CASE_ACTIONS)})", name="review_events_action"),
    sa.CheckConstraint(f"to_status IN ({', '.join(repr(s) for s in REVIEW_STATUSES)})", name="review_events_status"),
)
sa.Index("review_events_row", review_events.c.account_id, review_events.c.as_of)
# Who works on a queue row now (revision 0003): one analyst at most.
claims = sa.Table(CLAIMS_TABLE, metadata, *_columns(CLAIMS))

# The seller side of abusive cancellations, one row per seller per scoring date; revision 0004.
seller_exposure = sa.Table(
    SELLER_EXPOSURE_TABLE,
    metadata,
    *(sa.Column(c.name, SQL_TYPES[c.type], primary_key=c.key, nullable=c.nullable) for c in SELLER_EXPOSURE),
)

# A row no analyst has touched (no verdict, no claim ever): the batch run may delete it when its
# account drops out of the queue. A row with events keeps them pointing at something.
_UNTOUCHED = sa.and_(
    review_queue.c.status == ReviewStatus.OPEN.value,
    review_queue.c.reviewed_by.is_(None),
    review_queue.c.reviewed_at.is_(None),
    review_queue.c.note.is_(None),
    ~sa.exists().where(
        review_events.c.account_id == review_queue.c.account_id, review_events.c.as_of == review_queue.c.as_of
    ),
)


def check_url(url: str) -> sa.URL:
    """`url` parsed, or ReviewDbError in one line (password hidden) when it cannot name a lasting
    review database: empty (an unset variable), malformed, another backend, SQLite in memory
    (the queue would vanish with the process) or a SQLite file in a directory that does not
    exist. Touches nothing."""
    if not url or not url.strip():
        raise ReviewDbError(
            "the review database URL is empty (an unset variable?); give --review-db or BUYER_ABUSE_REVIEW_DB"
        )
    try:
        parsed = sa.make_url(url)
    except ArgumentError:
        raise ReviewDbError(
            "review database URL is malformed; expected e.g. sqlite:///review.db "
            "or postgresql+psycopg://user@host:5432/dbname"
        ) from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() not in _INSERTS:
        raise ReviewDbError(f"review database {shown}: unsupported backend (use sqlite or postgresql)")
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is None:
            raise ReviewDbError(
                f"review database {shown} is in memory: the queue would vanish when the command ends; "
                "use a file (sqlite:///review.db) or a server"
            )
        if not path.parent.is_dir():
            raise ReviewDbError(f"review database {shown}: directory {path.parent} does not exist")
    return parsed


def sqlite_path(url: sa.URL) -> Path | None:
    """The file of a SQLite URL, None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:") or url.query.get("mode") == "memory":
        return None
    return Path(database.removeprefix("file:"))


def connect(url: str, *, create: bool = True, attempts: int = 1) -> sa.Engine:
    """An engine on the review database at `url`, its schema created or upgraded to the current
    revision (the Alembic migrations in ``pipeline/migrations``).

    With ``create=False`` (commands that only read or update an existing table) a database
    without the review table is refused, and a SQLite file that does not exist is not created.
    A database that does not answer is tried `attempts` times, waiting RETRY_WAIT seconds and
    doubling in between. Creating and upgrading are safe when several processes connect to a
    new database at once: the first holds the schema lock (a PostgreSQL advisory lock, SQLite's
    write lock) and the others find the schema made.

    Raises ReviewDbError, in one line with any password hidden, when the URL cannot name a lasting
    database (`check_url`), the database holds a newer schema or a ``review_queue`` table that
    buyer-abuse did not create (refused before anything is written), or, as ReviewDbUnavailable,
    when it cannot be reached.
    """
    parsed = check_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if not create and parsed.get_backend_name() == "sqlite" and not sqlite_path(parsed).is_file():
        raise ReviewDbError(f"no review database at {sqlite_path(parsed)} (from {shown}): nothing created")
    # libpq otherwise waits for the operating system's TCP timeout on an unanswered host.
    libpq = parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2")
    options = {"connect_timeout": 10} if libpq and "connect_timeout" not in parsed.query else {}
    if parsed.get_backend_name() == "sqlite":
        options = {"timeout": _SQLITE_BUSY_SECONDS}
    with _database_errors(parsed):
        engine = sa.create_engine(parsed, connect_args=options)
    if engine.dialect.name == "sqlite":
        _sqlite_transactions(engine)
    try:
        retrying(attempts, f"review database {shown}")(_migrate, engine, shown, create)
    except BaseException:
        engine.dispose()
        raise
    return engine


def retrying(attempts: int, what: str) -> tenacity.Retrying:
    """Call again on ReviewDbUnavailable, up to `attempts` calls, with exponential backoff."""

    def say(state: tenacity.RetryCallState) -> None:
        log.warning(
            "%s: %s; try %d of %d in %.1f s",
            what,
            state.outcome.exception(),
            state.attempt_number + 1,
            attempts,
            state.next_action.sleep,
        )

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, attempts)),
        wait=tenacity.wait_exponential(multiplier=RETRY_WAIT, max=30),
        retry=tenacity.retry_if_exception_type(ReviewDbUnavailable),
        before_sleep=say,
        reraise=True,
    )


def _sqlite_transactions(engine: sa.Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin SQLite transactions: DDL then runs inside
    them (so a migration is all or nothing), and a writing transaction can begin IMMEDIATE,
    taking the write lock first so that two writers queue instead of one failing (SQLAlchemy's
    documented pysqlite recipe)."""

    @sa.event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection, record) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin_here(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")


def _alembic(conn: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic(None))


def _state(conn: sa.Connection) -> tuple[set[str], str | None, int | None]:
    """The tables of the database, its Alembic revision and its review_schema version (None when absent)."""
    tables = set(sa.inspect(conn).get_table_names())
    revision = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    legacy = conn.scalar(sa.text("SELECT max(version) FROM review_schema")) if "review_schema" in tables else None
    return tables, revision, legacy


def _refusal(conn: sa.Connection, shown: str, create: bool) -> str | None:
    """Why the database must not be used or changed, or None. Reads only."""
    tables, revision, legacy = _state(conn)
    scripts = _scripts()
    known = {r.revision for r in scripts.walk_revisions()}
    if revision is not None and revision not in known:
        return (
            f"review database {shown} is at schema revision {revision}, which this buyer-abuse does not know "
            f"(written by a newer one): upgrade buyer-abuse"
        )
    if legacy is not None and legacy > SCHEMA_VERSION:
        return (
            f"review database {shown} has schema version {legacy}, newer than the "
            f"{SCHEMA_VERSION} this buyer-abuse knows: upgrade buyer-abuse"
        )
    if REVIEW_QUEUE_TABLE in tables:
        if legacy is None and revision is None:
            return (
                f"review database {shown} already holds a {REVIEW_QUEUE_TABLE} table that buyer-abuse did not "
                "create (no review_schema): refusing to touch it; point --review-db at another database"
            )
        columns = {c["name"] for c in sa.inspect(conn).get_columns(REVIEW_QUEUE_TABLE)}
        missing = [c.name for c in REVIEW_QUEUE if c.name not in columns]
        if missing:
            return (
                f"review database {shown}: its {REVIEW_QUEUE_TABLE} table lacks {', '.join(missing)}, so it is not "
                "buyer-abuse's: refusing to touch it"
            )
    elif legacy is not None or revision is not None:
        return f"review database {shown} has a review_schema but no {REVIEW_QUEUE_TABLE} table: refusing to guess"
    elif not create:
        return f"review database {shown} has no {REVIEW_QUEUE_TABLE} table: run `buyer-abuse run` first"
    return None


def _migrate(engine: sa.Engine, shown: str, create: bool) -> None:
    """Bring the schema to the head revision, or raise ReviewDbError when it must not be touched."""
    head = _scripts().get_current_head()
    with _begin(engine) as conn:  # the usual case, without taking any lock: nothing to do
        _, revision, legacy = _state(conn)
        if revision == head and legacy == SCHEMA_VERSION:
            return
    with _begin(engine, immediate=True) as conn:
        if conn.dialect.name == "postgresql":  # held until this transaction ends
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        refusal = _refusal(conn, shown, create)  # again, now that no one else can be migrating
        if refusal:
            raise ReviewDbError(refusal)
        _, revision, legacy = _state(conn)
        if revision == head and legacy == SCHEMA_VERSION:
            return
        config = _alembic(conn)
        if revision is None and legacy is not None:  # made before Alembic: the baseline, by definition
            log.info("review database %s: schema version %s recorded as revision %s", shown, legacy, BASELINE)
            command.stamp(config, BASELINE)
        log.info("review database %s: upgrading the schema from %s to %s", shown, revision or "nothing", head)
        command.upgrade(config, "head")


# -- run locks: one nightly run per scoring date per review database ---------------------------


@contextmanager
def run_lock(engine: sa.Engine, as_of: date, purpose: str, ttl: timedelta = LOCK_TTL) -> Iterator[str]:
    """Hold the lock of scoring date `as_of` in this review database while the block runs; yields
    the owner text to hand to `write_queue(lock=...)`, which checks the lock is still held in
    the same transaction that writes.

    The lock is a row of ``run_locks`` (owner, host, process id, expiry). It is renewed every
    quarter of `ttl` by a background thread and deleted at the end. Another run's row is taken
    over only when its expiry has passed or its process is gone from this host; otherwise
    RunLocked (exit 75: retry later) names its owner.
    """
    owner = f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()} run {uuid.uuid4().hex[:8]} ({purpose})"
    acquire_run_lock(engine, as_of, owner, ttl)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl.total_seconds() / 4):
            try:
                if not renew_run_lock(engine, as_of, owner, ttl):
                    log.warning("run lock of %s was taken over: this run will not write the review table", as_of)
                    return
            except Exception as exc:  # a missed renewal is not fatal; write_queue checks the lock anyway
                log.warning("run lock of %s not renewed: %s", as_of, exc)

    heartbeat = threading.Thread(target=renew, name=f"run-lock-{as_of}", daemon=True)
    heartbeat.start()
    try:
        yield owner
    finally:
        stop.set()
        heartbeat.join()
        release_run_lock(engine, as_of, owner)


def acquire_run_lock(engine: sa.Engine, as_of: date, owner: str, ttl: timedelta = LOCK_TTL) -> None:
    """Take the lock of `as_of` for `owner`, or raise RunLocked naming the run that holds it."""
    now = datetime.now(UTC)
    row = {
        "as_of": as_of,
        "owner": owner,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired_at": now,
        "expires_at": now + ttl,
    }
    locks = run_locks.c
    with _begin(engine, immediate=True) as conn:
        held = conn.execute(sa.select(run_locks).where(locks.as_of == as_of)).mappings().first()
        if held is None:
            # RETURNING, not rowcount: a driver may report -1 for an INSERT (psycopg does here).
            insert = _INSERTS[engine.dialect.name](run_locks).on_conflict_do_nothing().returning(locks.as_of)
            taken = conn.execute(insert, row).first() is not None
        elif _expired(held, now) or _gone(held):
            log.warning("run lock of %s held by %s is stale: taken over", as_of, held["owner"])
            # Only if it is still that row: of two runs taking over at once, one wins.
            taken = conn.execute(
                sa.update(run_locks).where(locks.as_of == as_of, locks.owner == held["owner"]).values(row)
            ).rowcount
        else:
            taken = 0
    if not taken:
        held = held or {"owner": "another run", "expires_at": now + ttl}
        raise RunLocked(
            f"another run for {as_of} is in progress in this review database ({held['owner']}, lock until "
            f"{_utc(held['expires_at']):%Y-%m-%dT%H:%M:%SZ}); not starting a second: retry later"
        )


def renew_run_lock(engine: sa.Engine, as_of: date, owner: str, ttl: timedelta = LOCK_TTL) -> bool:
    """Push the expiry of `owner`'s lock on `as_of` forward; False when it no longer holds it."""
    locks = run_locks.c
    with _begin(engine, immediate=True) as conn:
        return bool(
            conn.execute(
                sa.update(run_locks)
                .where(locks.as_of == as_of, locks.owner == owner)
                .values(expires_at=datetime.now(UTC) + ttl)
            ).rowcount
        )


def release_run_lock(engine: sa.Engine, as_of: date, owner: str) -> None:
    with _begin(engine, immediate=True) as conn:
        conn.execute(sa.delete(run_locks).where(run_locks.c.as_of == as_of, run_locks.c.owner == owner))


def _expired(held: dict, now: datetime) -> bool:
    return _utc(held["expires_at"]) <= now


def _gone(held: dict) -> bool:
    """The lock's process is on this host and no longer runs (a run killed with -9)."""
    if held["host"] != socket.gethostname():
        return False
    try:
        os.kill(held["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def write_queue(engine: sa.Engine, as_of: date, queue: pd.DataFrame, lock: str | None = None) -> int:
    """Write the review queue of scoring date `as_of`; returns the number of rows written (one per account).

    `queue` has columns account_id, score (0..1), rank (>= 1), model_version, reasons
    (a JSON list as text) and ring_id (nullable). In one transaction: new accounts are
    inserted as ``open``; accounts already queued that day get the new score, rank,
    model_version, reasons and ring_id but keep their status, reviewed_by, reviewed_at
    and note; that day's rows missing from `queue` are deleted unless an analyst touched
    them. An invalid queue raises ReviewDbError, naming every broken rule, before anything
    is written. With `lock` (the owner `run_lock` yielded) the write happens only if that run
    still holds the lock of `as_of`, checked in the same transaction (else RunLocked).
    """
    rows = _queue_rows(as_of, queue)
    insert = _INSERTS[engine.dialect.name](review_queue)
    upsert = insert.on_conflict_do_update(
        index_elements=[review_queue.c.account_id, review_queue.c.as_of],
        set_={name: insert.excluded[name] for name in QUEUE_COLUMNS if name != "account_id"},
    )
    with _begin(engine, immediate=True) as conn:
        _still_locked(conn, as_of, lock, "review table")
        if rows:
            conn.execute(upsert, rows)
        _delete_stale(conn, as_of, keep={row["account_id"] for row in rows})
    return len(rows)


def _still_locked(conn: sa.Connection, as_of: date, lock: str | None, what: str) -> None:
    """With `lock` (the owner `run_lock` yielded): renew it, or raise RunLocked when that run no
    longer holds the lock of `as_of`, in the transaction of the write it guards."""
    if lock is None:
        return
    locks = run_locks.c
    still = conn.execute(
        sa.update(run_locks)
        .where(locks.as_of == as_of, locks.owner == lock)
        .values(expires_at=datetime.now(UTC) + LOCK_TTL)
    ).rowcount
    if not still:
        raise RunLocked(f"this run lost the lock of {as_of} to another run: {what} not written")


def write_seller_exposure(engine: sa.Engine, as_of: date, exposure: pl.DataFrame, lock: str | None = None) -> int:
    """Replace the seller_exposure rows of scoring date `as_of` with `exposure` (the columns of
    ``contract.outputs.SELLER_EXPOSURE``, as_of aside: ``models.sellers.seller_exposure``), in
    one transaction; returns the rows written. Nothing in the table is an analyst's, so a re-run
    of the date leaves exactly its own rows. A frame missing a column or repeating a seller
    raises ReviewDbError before anything is written; `lock` as in `write_queue`."""
    columns = [c.name for c in SELLER_EXPOSURE if c.name != "as_of"]
    missing = [name for name in columns if name not in exposure.columns]
    if missing:
        raise ReviewDbError(f"seller exposure for {as_of} not written: missing column(s) {', '.join(missing)}")
    repeated = exposure.filter(pl.col("seller_id").is_duplicated())["seller_id"].unique().sort()
    if len(repeated):
        raise ReviewDbError(
            f"seller exposure for {as_of} not written: seller_id repeated (e.g. {', '.join(repeated.head(3))})"
        )
    # NaN is no SQL value: a rate with no orders behind it is null.
    rows = [{"as_of": as_of, **row} for row in exposure.select(columns).fill_nan(None).to_dicts()]
    with _begin(engine, immediate=True) as conn:
        _still_locked(conn, as_of, lock, "seller exposure")
        conn.execute(sa.delete(seller_exposure).where(seller_exposure.c.as_of == as_of))
        for start in range(0, len(rows), _DELETE_BATCH):
            conn.execute(sa.insert(seller_exposure), rows[start : start + _DELETE_BATCH])
    return len(rows)


def read_seller_exposure(engine: sa.Engine, as_of: date | None = None) -> pd.DataFrame:
    """The seller_exposure rows of scoring date `as_of` (every date when None), ordered by as_of,
    then target_rank (most targeted first, sellers without abuse-driven cancellations last),
    then seller_id. Columns as in the table; target_rank is Int64 (<NA> when null)."""
    s = seller_exposure.c
    query = sa.select(seller_exposure).order_by(s.as_of, s.target_rank.is_(None), s.target_rank, s.seller_id)
    if as_of is not None:
        query = query.where(s.as_of == as_of)
    with _begin(engine) as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(seller_exposure.columns.keys()))
    types = {
        c.name: {"text": "str", "real": "float64", "integer": "int64"}[c.type]
        for c in SELLER_EXPOSURE
        if c.type != "date" and not (c.nullable and c.type == "integer")
    }
    return frame.astype(types).astype({c.name: "Int64" for c in SELLER_EXPOSURE if c.nullable and c.type == "integer"})


def read_queue(engine: sa.Engine, as_of: date | None = None) -> pd.DataFrame:
    """The review_queue rows of scoring date `as_of` (every date when None), ordered by as_of then rank.

    Columns as in the table: text columns are ``str`` (NaN when null), as_of holds
    ``datetime.date`` values, score is float64, rank int64 and reviewed_at
    datetime64[us, UTC] (NaT until an analyst decides).
    """
    query = sa.select(review_queue).order_by(review_queue.c.as_of, review_queue.c.rank, review_queue.c.account_id)
    if as_of is not None:
        query = query.where(review_queue.c.as_of == as_of)
    with _begin(engine) as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(review_queue.columns.keys()))
    text = {c.name: "str" for c in review_queue.columns if isinstance(c.type, sa.Text)}
    return frame.astype({**text, "score": "float64", "rank": "int64"}).assign(
        reviewed_at=_utc_times(frame["reviewed_at"])
    )


def queue_dates(engine: sa.Engine) -> list[date]:
    """The scoring dates in the review table, latest first."""
    with _begin(engine) as conn:
        return list(conn.scalars(sa.select(review_queue.c.as_of).distinct().order_by(review_queue.c.as_of.desc())))


def record_verdict(
    engine: sa.Engine,
    account_id: str,
    as_of: date,
    status: str,
    reviewed_by: str,
    note: str | None = None,
    reviewed_at: datetime | None = None,
    *,
    seen: int | None = None,
) -> None:
    """Set an analyst's status, name, time (default: now, UTC; naive = UTC) and note on one queued
    row, append the change to ``review_events`` and end the analyst's claim on it, in one transaction.

    Raises ReviewDbError for a status outside REVIEW_STATUSES, a missing reviewer, or an
    (account_id, as_of) that is not in the queue; CaseConflict, recording nothing, when another
    analyst claims the row or (with `seen`, the `last_event` the analyst was shown) when it changed since.
    """
    if status not in REVIEW_STATUSES:
        raise ReviewDbError(f"unknown review status {status!r}; use one of {', '.join(REVIEW_STATUSES)}")
    if not reviewed_by:
        raise ReviewDbError("a verdict needs reviewed_by: the analyst who decided")
    at = _utc(reviewed_at or datetime.now(UTC))
    with _begin(engine, immediate=True) as conn:
        before = _case(conn, account_id, as_of, reviewed_by, seen)
        _decide(conn, account_id, as_of, before, status, reviewed_by, note, at)


def record_ring_verdict(
    engine: sa.Engine,
    members: list[str],
    as_of: date,
    status: str,
    reviewed_by: str,
    note: str | None = None,
    *,
    seen: int | None = None,
) -> dict[str, list[str]]:
    """The same verdict on every member of a ring queued on `as_of` and still undecided (open or
    escalated), in one transaction: all of them or none. Returns the accounts ``decided`` and
    those ``kept`` (queued but already confirmed or cleared: their decision stands) and ``not
    queued`` (no row that day: nothing to record).

    CaseConflict, recording nothing, when another analyst claims one of them or (with `seen`,
    the `last_event` of the members shown) when any of them changed since.
    """
    if status not in REVIEW_STATUSES:
        raise ReviewDbError(f"unknown review status {status!r}; use one of {', '.join(REVIEW_STATUSES)}")
    at = datetime.now(UTC)
    with _begin(engine, immediate=True) as conn:
        if seen is not None and _last_event(conn, members, as_of) != seen:
            raise CaseConflict(f"the ring changed on {as_of} since you opened it: nothing recorded; look again")
        rows = {a: _case(conn, a, as_of, reviewed_by, None, missing_ok=True) for a in members}
        open_ = (ReviewStatus.OPEN.value, ReviewStatus.ESCALATED.value)
        outcome = {
            "decided": [a for a, before in rows.items() if before is not None and before in open_],
            "kept": [a for a, before in rows.items() if before is not None and before not in open_],
            "not queued": [a for a, before in rows.items() if before is None],
        }
        for account in outcome["decided"]:
            _decide(conn, account, as_of, rows[account], status, reviewed_by, note, at)
    return outcome


def claim(engine: sa.Engine, account_id: str, as_of: date, by: str, *, seen: int | None = None) -> None:
    """Take the queue row of (account_id, as_of) for analyst `by` (already theirs: nothing changes).

    CaseConflict when another analyst holds it, or (with `seen`) it changed since it was shown;
    ReviewDbError when there is no such row."""
    with _begin(engine, immediate=True) as conn:
        status = _case(conn, account_id, as_of, by, seen)
        key = {"account_id": account_id, "as_of": as_of}
        if conn.execute(sa.select(claims.c.claimed_by).filter_by(**key)).first() is not None:
            return  # _case let it through: the claim is `by`'s own
        now = datetime.now(UTC)
        # RETURNING: of two analysts claiming at once, the second finds the row taken (PostgreSQL
        # makes it wait for the first's commit) and is refused.
        insert = _INSERTS[conn.dialect.name](claims).on_conflict_do_nothing().returning(claims.c.account_id)
        if conn.execute(insert, key | {"claimed_by": by, "claimed_at": now}).first() is None:
            raise CaseConflict(f"{account_id} on {as_of} was just claimed by another analyst")
        _event(conn, account_id, as_of, CaseAction.CLAIM, status, status, by, now)


def release(engine: sa.Engine, account_id: str, as_of: date, by: str) -> None:
    """Give back `by`'s claim on (account_id, as_of); CaseConflict when `by` does not hold it."""
    with _begin(engine, immediate=True) as conn:
        status = _case(conn, account_id, as_of, by, None)
        gone = conn.execute(sa.delete(claims).filter_by(account_id=account_id, as_of=as_of, claimed_by=by)).rowcount
        if not gone:
            raise CaseConflict(f"{account_id} on {as_of} is not claimed by {by}: nothing to release")
        _event(conn, account_id, as_of, CaseAction.RELEASE, status, status, by, datetime.now(UTC))


def last_event(engine: sa.Engine, accounts: list[str], as_of: date) -> int:
    """The latest event_id on the queue rows of `accounts` on `as_of` (0 when none): what an analyst
    was shown, handed back as `seen` so that a change made since is noticed."""
    with _begin(engine) as conn:
        return _last_event(conn, accounts, as_of)


def events(engine: sa.Engine, accounts: list[str] | None = None, as_of: date | None = None) -> pd.DataFrame:
    """The case history, oldest first: review_events rows (of `accounts` and of `as_of` when given).
    changed_at is datetime64[us, UTC]; text columns ``str`` (NaN when null)."""
    e = review_events.c
    query = sa.select(review_events).order_by(e.event_id)
    if accounts is not None:
        query = query.where(e.account_id.in_(list(accounts)))
    if as_of is not None:
        query = query.where(e.as_of == as_of)
    with _begin(engine) as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(review_events.columns.keys()))
    text = {c.name: "str" for c in review_events.columns if isinstance(c.type, sa.Text)}
    return frame.astype({**text, "event_id": "int64"}).assign(changed_at=_utc_times(frame["changed_at"]))


def claims_of(engine: sa.Engine, as_of: date | None = None) -> pd.DataFrame:
    """Who holds which queue row now: account_id, as_of, claimed_by, claimed_at (of `as_of` when given)."""
    query = sa.select(claims).order_by(claims.c.as_of, claims.c.account_id)
    if as_of is not None:
        query = query.where(claims.c.as_of == as_of)
    with _begin(engine) as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(claims.columns.keys()))
    return frame.astype({"account_id": "str", "claimed_by": "str"}).assign(claimed_at=_utc_times(frame["claimed_at"]))


def _case(
    conn: sa.Connection, account_id: str, as_of: date, by: str, seen: int | None, missing_ok: bool = False
) -> str | None:
    """The row's status, locked until the transaction ends, once it is sure `by` may change it: no
    other analyst's claim, and (with `seen`) no event since. None for a missing row when `missing_ok`."""
    q = review_queue.c
    status = conn.scalar(
        sa.select(q.status)
        .where(q.account_id == account_id, q.as_of == as_of)
        .with_for_update()  # SQLite: BEGIN IMMEDIATE
    )
    if status is None:
        if missing_ok:
            return None
        raise ReviewDbError(f"no review row for account {account_id!r} on {as_of}: nothing recorded")
    held = conn.execute(sa.select(claims).filter_by(account_id=account_id, as_of=as_of)).mappings().first()
    if held is not None and held["claimed_by"] != by:
        raise CaseConflict(
            f"{account_id} on {as_of} is claimed by {held['claimed_by']} since "
            f"{_utc(held['claimed_at']):%Y-%m-%d %H:%M} UTC: nothing recorded; ask them, or wait for the release"
        )
    if seen is not None and _last_event(conn, [account_id], as_of) != seen:
        latest = (
            conn.execute(
                sa.select(review_events)
                .filter_by(account_id=account_id, as_of=as_of)
                .order_by(review_events.c.event_id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        raise CaseConflict(
            f"{account_id} on {as_of} changed since you opened it ({latest['action']} by {latest['changed_by']} at "
            f"{_utc(latest['changed_at']):%Y-%m-%d %H:%M} UTC, now {latest['to_status']}): nothing recorded; look again"
        )
    return status


def _decide(
    conn: sa.Connection,
    account_id: str,
    as_of: date,
    before: str,
    status: str,
    by: str,
    note: str | None,
    at: datetime,
) -> None:
    """Set the verdict on a row `_case` cleared, record its event, end any claim on it."""
    key = {"account_id": account_id, "as_of": as_of}
    decided = {"status": status, "reviewed_by": by, "note": note, "reviewed_at": at}
    conn.execute(sa.update(review_queue).filter_by(**key).values(decided))
    conn.execute(sa.delete(claims).filter_by(**key))
    _event(conn, account_id, as_of, CaseAction.VERDICT, before, status, by, at, note)


def _event(
    conn: sa.Connection,
    account_id: str,
    as_of: date,
    action: CaseAction,
    before: str,
    after: str,
    by: str,
    at: datetime,
    note: str | None = None,
) -> None:
    conn.execute(
        sa.insert(review_events).values(
            account_id=account_id,
            as_of=as_of,
            action=action.value,
            from_status=before,
            to_status=after,
            changed_by=by,
            changed_at=at,
            note=note,
        )
    )


def _last_event(conn: sa.Connection, accounts: list[str], as_of: date) -> int:
    e = review_events.c
    return int(
        conn.scalar(sa.select(sa.func.max(e.event_id)).where(e.account_id.in_(list(accounts)), e.as_of == as_of)) or 0
    )


def verdicts(engine: sa.Engine, until: datetime | None = None) -> pd.DataFrame:
    """Analysts' decisions as labels, in the shape of the snapshot's `labels` table (contract section 1).

    Columns account_id, label ('abuse' from confirmed_abuse, 'legit' from cleared),
    decided_at (the reviewed_at instant, datetime64[us, UTC]) and source ('review'); one row per
    decided queue row, ordered by decided_at. Escalated and open rows are no decision.
    Only decisions with reviewed_at <= `until` (naive = UTC) when it is given.
    """
    q = review_queue.c
    query = (
        sa.select(q.account_id, q.status, q.reviewed_at)
        .where(q.status.in_(tuple(LABEL_OF_STATUS)), q.reviewed_at.is_not(None))
        .order_by(q.reviewed_at, q.as_of, q.account_id)
    )
    if until is not None:
        query = query.where(q.reviewed_at <= until)
    with _begin(engine) as conn:
        rows = pd.DataFrame(conn.execute(query).all(), columns=["account_id", "status", "reviewed_at"])
    return pd.DataFrame(
        {
            "account_id": rows["account_id"].astype("str"),
            "label": rows["status"].map(LABEL_OF_STATUS).astype("str"),
            "decided_at": _utc_times(rows["reviewed_at"]),
            "source": pd.Series("review", index=rows.index, dtype="str"),
        }
    )


def touched_accounts(engine: sa.Engine, as_of: date) -> set[str]:
    """Accounts of scoring date `as_of` whose row an analyst has worked on (status, reviewer,
    time or note set): a re-run keeps them in the table and refreshes their scores."""
    q = review_queue.c
    with _begin(engine) as conn:
        return set(conn.scalars(sa.select(q.account_id).where(q.as_of == as_of, sa.not_(_UNTOUCHED))))


def verdict_labels(engine: sa.Engine, until: datetime | None = None) -> pl.DataFrame:
    """`verdicts` as a polars frame typed like the snapshot's labels table, for the batch jobs."""
    frame = verdicts(engine, until)
    return pl.DataFrame(
        {c: frame[c].tolist() for c in frame.columns},
        schema={
            "account_id": pl.String,
            "label": pl.String,
            "decided_at": pl.Datetime("us", "UTC"),
            "source": pl.String,
        },
    )


def _queue_rows(as_of: date, queue: pd.DataFrame) -> list[dict]:
    """The rows of `queue` as inserted (status open); every broken rule at once raises ReviewDbError."""
    missing = [name for name in QUEUE_COLUMNS if name not in queue.columns]
    if missing:
        raise ReviewDbError(f"review queue for {as_of} not written: missing column(s) {', '.join(missing)}")
    ids = queue["account_id"]
    score = pd.to_numeric(queue["score"], errors="coerce")
    rank = pd.to_numeric(queue["rank"], errors="coerce")
    broken = {
        "account_id missing": ids.isna(),
        "account_id repeated": ids.notna() & ids.duplicated(keep=False),
        "score not within 0..1": ~score.between(0, 1),
        "rank not an integer >= 1": ~((rank >= 1) & (rank % 1 == 0)),
        "model_version missing": queue["model_version"].isna(),
        "reasons not a JSON list": queue["reasons"].map(_not_json_list).astype(bool),
    }
    problems = [
        f"{rule} ({int(mask.sum())} of {len(queue)} rows, e.g. {_examples(ids, mask)})"
        for rule, mask in broken.items()
        if mask.any()
    ]
    if problems:
        raise ReviewDbError(f"review queue for {as_of} not written: " + "; ".join(problems))
    columns = zip(
        ids.tolist(),
        score.tolist(),
        rank.tolist(),
        queue["model_version"].tolist(),
        queue["reasons"].tolist(),
        queue["ring_id"].tolist(),
        strict=True,
    )
    return [
        {
            "account_id": str(account),
            "as_of": as_of,
            "score": float(s),
            "rank": int(r),
            "model_version": str(model),
            "reasons": reasons,
            "ring_id": None if pd.isna(ring) else str(ring),
            "status": ReviewStatus.OPEN.value,
        }
        for account, s, r, model, reasons, ring in columns
    ]


def _utc_times(values: pd.Series) -> pd.Series:
    """Aware datetimes (or None) as datetime64[us, UTC], whatever the rows, so the dtype never varies."""
    return pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")


def _examples(ids: pd.Series, mask: pd.Series) -> str:
    """Up to three accounts where `mask` holds, by account_id or, where that is missing, by row position."""
    return ", ".join(f"row {i}" if pd.isna(ids.iloc[i]) else str(ids.iloc[i]) for i in mask.to_numpy().nonzero()[0][:3])


def _not_json_list(text: object) -> bool:
    """Whether `text` is not a strict JSON list (NaN and Infinity, which strict parsers refuse, are not JSON)."""
    try:
        return not (isinstance(text, str) and isinstance(json.loads(text, parse_constant=_not_json), list))
    except ValueError:
        return True


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _delete_stale(conn: sa.Connection, as_of: date, keep: set[str]) -> None:
    """Delete the rows of `as_of` whose account is not in `keep` and that no analyst has touched."""
    day = review_queue.c.as_of == as_of
    stale = [a for a in conn.scalars(sa.select(review_queue.c.account_id).where(day, _UNTOUCHED)) if a not in keep]
    for start in range(0, len(stale), _DELETE_BATCH):
        batch = stale[start : start + _DELETE_BATCH]
        # _UNTOUCHED again: a verdict recorded since the select keeps its row.
        conn.execute(sa.delete(review_queue).where(day, _UNTOUCHED, review_queue.c.account_id.in_(batch)))


@contextmanager
def _begin(engine: sa.Engine, immediate: bool = False) -> Iterator[sa.Connection]:
    """A transaction on `engine` (committed on success) whose database failures become ReviewDbError.
    `immediate`: on SQLite, take the write lock at BEGIN (a transaction that reads, then writes)."""
    with _database_errors(engine.url), engine.connect() as conn:
        if immediate:
            conn.execution_options(immediate=True)
        with conn.begin():
            yield conn


@contextmanager
def _database_errors(url: sa.URL) -> Iterator[None]:
    """Re-raise a database failure as ReviewDbError: one line naming the database, its password hidden."""
    try:
        yield
    except (SQLAlchemyError, ImportError) as exc:  # ImportError: the URL names a driver not installed
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())  # the driver's words, without SQL
        if url.password:
            reason = reason.replace(str(url.password), "***")
        error = ReviewDbUnavailable if _unavailable(exc) else ReviewDbError
        raise error(f"review database {url.render_as_string(hide_password=True)}: {reason}") from exc


def _unavailable(exc: Exception) -> bool:
    """Whether a database failure may pass on its own: a server that does not answer, a SQLite
    file another process holds locked. Not a bad URL, a missing driver or a refused statement."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
        return False
    if "sqlite" in type(exc.orig).__module__:
        return "locked" in str(exc.orig) or "busy" in str(exc.orig)
    return True
