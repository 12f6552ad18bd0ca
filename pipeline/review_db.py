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

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pandas as pd
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from contract.outputs import QUEUE_COLUMNS, REVIEW_QUEUE, REVIEW_QUEUE_TABLE
from contract.values import LABEL_OF_STATUS, REVIEW_STATUSES, ReviewStatus
from pipeline.errors import ReviewDbError

SCHEMA_VERSION = 1
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

review_queue = sa.Table(
    REVIEW_QUEUE_TABLE,
    metadata,
    *(
        sa.Column(
            c.name,
            SQL_TYPES[c.type],
            primary_key=c.key,
            nullable=c.nullable,
            server_default=ReviewStatus.OPEN.value if c.name == "status" else None,
        )
        for c in REVIEW_QUEUE
    ),
    sa.CheckConstraint("score >= 0 AND score <= 1", name="review_queue_score_range"),
    sa.CheckConstraint("rank >= 1", name="review_queue_rank_positive"),
    sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in REVIEW_STATUSES)})", name="review_queue_status"),
)

review_schema = sa.Table(
    "review_schema",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
)

# A row no analyst has touched: the batch run may delete it when its account drops out of the queue.
_UNTOUCHED = sa.and_(
    review_queue.c.status == ReviewStatus.OPEN.value,
    review_queue.c.reviewed_by.is_(None),
    review_queue.c.reviewed_at.is_(None),
    review_queue.c.note.is_(None),
)


def connect(url: str) -> sa.Engine:
    """An engine on the review database at `url`, its tables created if missing.

    Raises ReviewDbError, in one line with any password hidden, when the URL is
    malformed or names an unsupported backend, the database cannot be reached, or it
    records a schema version newer than SCHEMA_VERSION.
    """
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
    # libpq otherwise waits for the operating system's TCP timeout on an unanswered host.
    libpq = parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2")
    timeout = {"connect_timeout": 10} if libpq and "connect_timeout" not in parsed.query else {}
    with _database_errors(parsed):
        engine = sa.create_engine(parsed, connect_args=timeout)
    try:
        with _begin(engine) as conn:
            recorded = (
                conn.scalar(sa.select(sa.func.max(review_schema.c.version)))
                if sa.inspect(conn).has_table(review_schema.name)
                else None
            )
            if recorded is not None and recorded > SCHEMA_VERSION:  # checked before creating anything
                raise ReviewDbError(
                    f"review database {shown} has schema version {recorded}, newer than the "
                    f"{SCHEMA_VERSION} this buyer-abuse knows: upgrade buyer-abuse"
                )
            metadata.create_all(conn)
            if recorded is None:
                conn.execute(
                    _INSERTS[engine.dialect.name](review_schema).on_conflict_do_nothing(), {"version": SCHEMA_VERSION}
                )
    except BaseException:
        engine.dispose()
        raise
    return engine


def write_queue(engine: sa.Engine, as_of: date, queue: pd.DataFrame) -> int:
    """Write the review queue of scoring date `as_of`; returns the number of rows written (one per account).

    `queue` has columns account_id, score (0..1), rank (>= 1), model_version, reasons
    (a JSON list as text) and ring_id (nullable). In one transaction: new accounts are
    inserted as ``open``; accounts already queued that day get the new score, rank,
    model_version, reasons and ring_id but keep their status, reviewed_by, reviewed_at
    and note; that day's rows missing from `queue` are deleted unless an analyst touched
    them. An invalid queue raises ReviewDbError, naming every broken rule, before anything
    is written.
    """
    rows = _queue_rows(as_of, queue)
    insert = _INSERTS[engine.dialect.name](review_queue)
    upsert = insert.on_conflict_do_update(
        index_elements=[review_queue.c.account_id, review_queue.c.as_of],
        set_={name: insert.excluded[name] for name in QUEUE_COLUMNS if name != "account_id"},
    )
    with _begin(engine) as conn:
        if rows:
            conn.execute(upsert, rows)
        _delete_stale(conn, as_of, keep={row["account_id"] for row in rows})
    return len(rows)


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


def record_verdict(
    engine: sa.Engine,
    account_id: str,
    as_of: date,
    status: str,
    reviewed_by: str,
    note: str | None = None,
    reviewed_at: datetime | None = None,
) -> None:
    """Set an analyst's status, name, time (default: now, UTC; naive = UTC) and note on one queued row.

    Raises ReviewDbError for a status outside REVIEW_STATUSES, a missing reviewer, or an
    (account_id, as_of) that is not in the queue.
    """
    if status not in REVIEW_STATUSES:
        raise ReviewDbError(f"unknown review status {status!r}; use one of {', '.join(REVIEW_STATUSES)}")
    if not reviewed_by:
        raise ReviewDbError("a verdict needs reviewed_by: the analyst who decided")
    decided = {
        "status": status,
        "reviewed_by": reviewed_by,
        "note": note,
        "reviewed_at": reviewed_at or datetime.now(UTC),
    }
    key = (review_queue.c.account_id == account_id) & (review_queue.c.as_of == as_of)
    with _begin(engine) as conn:
        found = conn.execute(sa.update(review_queue).where(key).values(decided)).rowcount
    if not found:
        raise ReviewDbError(f"no review row for account {account_id!r} on {as_of}: nothing recorded")


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
    try:
        return not (isinstance(text, str) and isinstance(json.loads(text), list))
    except ValueError:
        return True


def _delete_stale(conn: sa.Connection, as_of: date, keep: set[str]) -> None:
    """Delete the rows of `as_of` whose account is not in `keep` and that no analyst has touched."""
    day = review_queue.c.as_of == as_of
    stale = [a for a in conn.scalars(sa.select(review_queue.c.account_id).where(day, _UNTOUCHED)) if a not in keep]
    for start in range(0, len(stale), _DELETE_BATCH):
        batch = stale[start : start + _DELETE_BATCH]
        # _UNTOUCHED again: a verdict recorded since the select keeps its row.
        conn.execute(sa.delete(review_queue).where(day, _UNTOUCHED, review_queue.c.account_id.in_(batch)))


@contextmanager
def _begin(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction on `engine` (committed on success) whose database failures become ReviewDbError."""
    with _database_errors(engine.url), engine.begin() as conn:
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
        raise ReviewDbError(f"review database {url.render_as_string(hide_password=True)}: {reason}") from exc
