"""Typed settings: each from its option, else its environment variable, else the default of the
working directory the command runs in, and --help shows the default that applies."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e import invoke, one_line

from pipeline import cli
from pipeline.errors import EX_USAGE
from pipeline.settings import DEFAULT_CAPACITY, DEFAULT_REJECT_LIMIT, ENVIRONMENT, Settings, SparkSettings


def test_the_defaults_live_in_the_working_directory(tmp_path):
    defaults = Settings.defaults(tmp_path)

    assert defaults.review_db == f"sqlite:///{tmp_path.resolve()}/review.db"
    assert defaults.tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert defaults.runs == tmp_path.resolve() / "runs"
    assert (defaults.capacity, defaults.reject_limit) == (DEFAULT_CAPACITY, DEFAULT_REJECT_LIMIT)


def test_help_shows_the_defaults_of_the_working_directory_and_the_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)

    code, out, _ = invoke("run", "--help")
    out = "".join(out.split())  # click folds long lines, even inside a path

    assert code == 0
    for name, variable in ENVIRONMENT.items():
        assert (f"envvar:{variable}" in out) == (name != "users_file")  # the review app's setting, not run's
    assert f"default:sqlite:///{tmp_path.resolve()}/review.db" in out
    assert f"default:{tmp_path.resolve() / 'runs'}" in out

    code, out, _ = invoke("review-app", "--help")
    out = "".join(out.split())
    assert code == 0 and f"default:{tmp_path.resolve() / 'users.json'}" in out and "envvar:BUYER_ABUSE_USERS" in out


def resolve(monkeypatch: pytest.MonkeyPatch, *args: str) -> Settings:
    """The Settings `buyer-abuse run` would use, given its arguments (the batch itself is not run)."""
    seen = {}

    def batch(data: Path, as_of, settings: Settings) -> dict:
        seen["settings"] = settings
        return {"scored": 0, "queued": 0, "model": "none"}

    monkeypatch.setattr("pipeline.run.run", batch)
    defaults = cli.default_map(Settings.defaults(Path.cwd()))
    cli.app.main(["run", "--data", ".", "--as-of", "2026-03-01", *args], standalone_mode=False, default_map=defaults)
    return seen["settings"]


def test_an_option_beats_the_environment_which_beats_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    assert resolve(monkeypatch) == Settings.defaults(tmp_path)

    monkeypatch.setenv("BUYER_ABUSE_REVIEW_DB", "sqlite:////from/env.db")
    monkeypatch.setenv("BUYER_ABUSE_CAPACITY", "7")
    from_env = resolve(monkeypatch)
    assert (from_env.review_db, from_env.capacity) == ("sqlite:////from/env.db", 7)

    given = resolve(monkeypatch, "--review-db", "sqlite:////given.db", "--capacity", "3")
    assert (given.review_db, given.capacity) == ("sqlite:////given.db", 3)


def test_rule_actions_come_from_the_option_else_the_variable_else_the_contract(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    assert resolve(monkeypatch).actions["orders.states_in_order"] == "repair"

    monkeypatch.setenv("BUYER_ABUSE_RULE_ACTIONS", "orders.states_in_order=reject orders.cancelled_after_placed=repair")
    from_env = resolve(monkeypatch).actions
    assert (from_env["orders.states_in_order"], from_env["orders.cancelled_after_placed"]) == ("reject", "repair")
    assert from_env["orders.reason_only_if_cancelled"] == "reject"  # not named: its default

    given = resolve(monkeypatch, "--rule-action", "orders.reason_only_if_cancelled=repair").actions
    assert (given["orders.reason_only_if_cancelled"], given["orders.states_in_order"]) == ("repair", "repair")


def test_the_engine_and_spark_master_come_from_the_option_else_the_variable_else_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)
    default = resolve(monkeypatch)
    assert (default.engine, default.spark) == ("local", SparkSettings(master="local[*]", conf=(), staging=None))

    monkeypatch.setenv("BUYER_ABUSE_ENGINE", "spark")
    monkeypatch.setenv("BUYER_ABUSE_SPARK_MASTER", "spark://from-env:7077")
    monkeypatch.setenv("BUYER_ABUSE_SPARK_CONF", "spark.executor.memory=8g spark.sql.shuffle.partitions=400")
    monkeypatch.setenv("BUYER_ABUSE_SPARK_STAGING", "s3a://bucket/staging")
    from_env = resolve(monkeypatch)
    assert (from_env.engine, from_env.spark) == (
        "spark",
        SparkSettings(
            master="spark://from-env:7077",
            conf=(("spark.executor.memory", "8g"), ("spark.sql.shuffle.partitions", "400")),
            staging="s3a://bucket/staging",
        ),
    )

    given = resolve(monkeypatch, "--engine", "local", "--spark-master", "local[2]", "--spark-conf", "a.b=c=d")
    assert (given.engine, given.spark.master, given.spark.conf) == ("local", "local[2]", (("a.b", "c=d"),))


def test_a_spark_setting_that_is_not_key_value_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke("features", "--data", ".", "--as-of", "2026-03-01", "--out", "f", "--spark-conf", "memory")

    assert code == EX_USAGE
    assert "'memory' is not KEY=VALUE (e.g. spark.executor.memory=8g)" in one_line(err)
