"""Shared fixtures: a real PostgreSQL server for the session, and an empty review database per test."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa


def _postgres_bin() -> Path | None:
    """The bin directory of the newest PostgreSQL under /usr/lib/postgresql (the Debian layout), if any."""

    def version(initdb: str) -> int:
        name = Path(initdb).parents[1].name  # /usr/lib/postgresql/<version>/bin/initdb
        return int(name) if name.isdigit() else -1

    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    return Path(max(found, key=version)).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unavailable(reason: str) -> None:
    """Skip the PostgreSQL tests, or fail them where CI requires them (BUYER_ABUSE_REQUIRE_POSTGRES=1)."""
    if os.environ.get("BUYER_ABUSE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required but unavailable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throw-away PostgreSQL server on a free loopback port (trust auth), stopped after the session."""
    pgbin = _postgres_bin()
    if pgbin is None:
        _unavailable("no server binaries under /usr/lib/postgresql/*/bin (scripts/test installs them)")
    root = os.geteuid() == 0
    if root:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no `postgres` user to run the server as")
    as_postgres = ["runuser", "-u", "postgres", "--"] if root else []  # initdb and postgres refuse to run as root
    home = Path(tempfile.mkdtemp(prefix="buyer-abuse-pg-"))  # short: it also holds the Unix socket
    if root:
        shutil.chown(home, "postgres", "postgres")
    data, log, port = home / "data", home / "server.log", _free_port()

    def pg(tool: str, *args: str, check: bool = True) -> None:
        done = subprocess.run(
            [*as_postgres, str(pgbin / tool), *args], cwd=home, capture_output=True, text=True, timeout=120
        )
        if check and done.returncode:
            server_log = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{server_log}", pytrace=False)

    try:
        pg("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        pg(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            # A session time zone far from UTC, so that the tests show instants round-trip as UTC.
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {home} -c fsync=off -c TimeZone=Asia/Singapore",
            "start",
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            pg("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def review_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty review database: a SQLite file in tmp_path, or a new database on the test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'review.db'}"
        return
    server = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"test_{uuid.uuid4().hex}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:  # FORCE: an engine a test left open must not keep the database alive
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


# Spark in local mode for the engine's parity tests: two worker threads (the CI machine's cores)
# and as many shuffle partitions, since the test markets are small.
SPARK_TEST_CONF = (("spark.sql.shuffle.partitions", "2"),)


@pytest.fixture(scope="session")
def spark():
    """One real SparkSession (local[2]) for the whole test session, stopped at its end. Without
    PySpark or Java the Spark tests skip saying why in one line, or fail where CI requires them
    (BUYER_ABUSE_REQUIRE_SPARK=1)."""

    def unavailable(reason: str) -> None:
        if os.environ.get("BUYER_ABUSE_REQUIRE_SPARK") == "1":
            pytest.fail(f"Spark required but unavailable: {reason}", pytrace=False)
        pytest.skip(f"Spark unavailable: {reason}")

    try:
        from pipeline import spark_session
    except ImportError:
        unavailable("PySpark is not installed (the spark extra: pip install -e '.[spark]'; scripts/setup does)")
    from pipeline.errors import ConfigError
    from pipeline.settings import SparkSettings

    try:
        session = spark_session.session(SparkSettings(master="local[2]", conf=SPARK_TEST_CONF))
    except ConfigError as exc:  # no Java, most often: the engine's one line says so
        unavailable(str(exc))
    yield session
    session.stop()
