"""The `buyer-abuse` console script: every subcommand's help, one-line usage errors with exit 2,
and a smoke run of simulate, train, run, queue, verdict and features on a small market."""

from __future__ import annotations

import importlib.metadata
import io
import json
import logging
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from e2e import AS_OF, MARKET, invoke, one_line

from features.catalogue import feature_names
from pipeline import review_db
from pipeline.errors import EX_CONFIG, EX_DATAERR, EX_USAGE
from pipeline.review_db import connect, read_queue
from pipeline.settings import Settings

LOG = logging.getLogger("buyer_abuse")
COMMANDS = {
    "simulate": [
        "--out",
        "--accounts",
        "--days",
        "--seed",
        "--variation",
        "--label-process",
        "--label-delay-days",
        "--label-delay-tail",
        "--label-coverage",
        "--labels-ban",
        "--labels-no-ban",
        "--label-noise",
        "--label-corrections",
        "--label-takedown",
    ],
    "validate": ["--data", "--out", "--reject-limit"],
    "features": ["--data", "--as-of", "--out", "--buckets", "--reject-limit"],
    "train": ["--data", "--as-of", "--review-db", "--reject-limit"],
    "run": ["--as-of", "--data", "--review-db", "--capacity", "--out", "--reject-limit"],
    "backfill": ["--from", "--to", "--force", "--data", "--review-db", "--capacity", "--out", "--reject-limit"],
    "queue": ["--review-db", "--as-of", "--top"],
    "sellers": ["--review-db", "--as-of", "--top", "--format"],
    "verdict": ["--review-db", "--account", "--as-of", "--status", "--by", "--note"],
}


# -- wiring and usage errors (fast) -------------------------------------------------------------


def test_the_console_script_is_installed_and_lists_every_command():
    script = Path(sys.executable).with_name("buyer-abuse")

    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)

    assert (done.returncode, done.stderr) == (0, "")
    assert "Usage: buyer-abuse" in done.stdout
    for command in COMMANDS:
        assert f"  {command} " in done.stdout, command


def test_no_arguments_shows_the_help():
    code, out, err = invoke()

    assert (code, err) == (0, "")
    assert "Commands:" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_listing_its_options(command):
    code, out, err = invoke(command, "--help")

    assert (code, err) == (0, "")
    assert out.startswith(f"Usage: buyer-abuse {command} [OPTIONS]")
    for option in COMMANDS[command]:
        assert option in out, option


BAD_DATE = "2026-13-40"


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--data", "market", "--as-of", BAD_DATE],
        ["train", "--data", "market", "--as-of", BAD_DATE],
        ["features", "--data", "market", "--as-of", BAD_DATE, "--out", "f.parquet"],
        ["backfill", "--data", "market", "--from", BAD_DATE, "--to", "2026-03-11"],
        ["verdict", "--account", "u1", "--as-of", BAD_DATE, "--status", "cleared", "--by", "ana"],
        ["sellers", "--as-of", BAD_DATE],
    ],
    ids=lambda args: args[0],
)
def test_a_bad_date_is_a_usage_error_in_one_line(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke(*args)

    assert code == EX_USAGE
    line = one_line(err)
    assert f"'{BAD_DATE}' is not a date YYYY-MM-DD" in line and line.endswith("(see --help)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (["run", "--as-of", "2026-03-11"], "--data"),
        (["train", "--data", "market"], "--as-of"),
        (["simulate"], "--out"),
        (["verdict", "--account", "u1", "--as-of", "2026-03-11", "--status", "cleared"], "--by"),
        (["backfill", "--data", "market", "--from", "2026-03-01"], "--to"),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else value,
)
def test_a_missing_required_option_is_a_usage_error_in_one_line(args, missing, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke(*args)

    assert code == EX_USAGE
    assert one_line(err) == f"Missing option '{missing}'. (see --help)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label-delay-days", "10:5"], "'10:5' needs 0 <= MIN < MEDIAN"),
        (["--label-delay-days", "soon"], "'soon' is not MIN:MEDIAN days"),
        (["--label-coverage", "1.5"], "--label-coverage"),
        (["--label-process", "lenient"], "'lenient' is not one of 'default', 'early-no-ban'"),
        (["--variation", "2"], "--variation"),
    ],
    ids=["delay-order", "delay-form", "coverage", "preset", "variation"],
)
def test_a_bad_simulate_option_is_a_usage_error_in_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke("simulate", "--out", "market", *args)

    assert code == EX_USAGE
    assert message in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_every_simulate_help_line_shows_its_default():
    _, out, _ = invoke("simulate", "--help")
    options = out.split("Options:")[1].split("  -h, --help")[0]
    entries = [e for e in options.split("\n  --") if e.strip()]
    for entry in entries:
        assert "[default:" in entry or "[required]" in entry, entry


def test_simulate_options_set_the_label_process_and_variation_recorded_in_market_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--accounts", 300, "--days", 20, "--label-process", "late-ban", "--label-delay-days", "2:6"]
    args += ["--labels-no-ban", "--label-coverage", 0.5, "--label-noise", 0.1, "--label-corrections", 0.2]
    args += ["--label-takedown", 0.3, "--label-delay-tail", "exponential", "--variation", 0.25]

    code, out, err = invoke("simulate", "--out", "market", *args)

    assert (code, err) == (0, ""), out
    config = json.loads((tmp_path / "market" / "market.json").read_text())["config"]
    labels = config["label_process"]
    assert config["variation"] == 0.25
    assert (labels["bans"], labels["coverage"], labels["false_abuse"], labels["false_legit"]) == (False, 0.5, 0.1, 0.1)
    assert (labels["corrected"], labels["ring_takedown"]) == (0.2, 0.3)
    assert (labels["delay"]["min_days"], labels["delay"]["median_days"], labels["delay"]["tail"]) == (
        2.0,
        pytest.approx(6.0, abs=0.01),
        "exponential",
    )
    # What the preset says and no option changed stays the preset's.
    assert labels["regular_review"] == 0.005 and labels["chargeback_share"] == 0.5


def test_an_unknown_verdict_status_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke("verdict", "--account", "u1", "--as-of", "2026-03-11", "--status", "guilty", "--by", "ana")

    assert code == EX_USAGE
    assert "'guilty' is not one of 'open', 'confirmed_abuse', 'cleared', 'escalated'" in one_line(err)


def test_queue_on_an_empty_review_database_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    connect(Settings.defaults(tmp_path).review_db).dispose()  # the tables, no row

    code, _, err = invoke("queue")

    assert code == EX_DATAERR
    assert one_line(err) == "the review queue is empty: run `buyer-abuse run` first"


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "--review-db", "sqlite:///mistyped.db"],
        [
            "verdict",
            "--review-db",
            "sqlite:///mistyped.db",
            "--account",
            "u1",
            "--as-of",
            "2026-03-11",
            "--status",
            "cleared",
            "--by",
            "ana",
        ],
        ["sellers", "--review-db", "sqlite:///mistyped.db", "--as-of", "2026-03-11"],
    ],
    ids=["queue", "verdict", "sellers"],
)
def test_a_command_that_reads_the_review_table_never_creates_a_database(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    code, _, err = invoke(*args)

    assert code == EX_CONFIG
    assert one_line(err) == ("no review database at mistyped.db (from sqlite:///mistyped.db): nothing created")
    assert list(tmp_path.iterdir()) == []


def test_version():
    code, out, err = invoke("--version")

    assert (code, err) == (0, "")
    assert out.strip() == f"buyer-abuse {importlib.metadata.version('buyer-abuse')}"


# -- the commands on a small market -------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory where `simulate`, `train` and `run` have succeeded through the CLI."""
    home = tmp_path_factory.mktemp("cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
        mp.chdir(home)
        for args in (
            [
                "simulate",
                "--out",
                "market",
                "--accounts",
                MARKET.accounts,
                "--days",
                MARKET.days,
                "--seed",
                MARKET.seed,
            ],
            ["train", "--data", "market", "--as-of", AS_OF],
            ["run", "--data", "market", "--as-of", AS_OF, "--capacity", 50],
        ):
            code, out, err = invoke(*args)
            assert (code, err) == (0, ""), (args, out, err)
    return home


@pytest.fixture
def in_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    monkeypatch.setenv("COLUMNS", "240")  # a wide terminal, so that rich does not fold the reasons
    monkeypatch.chdir(home)
    return home


@pytest.mark.slow
def test_simulate_train_and_run_leave_their_outputs(in_home):
    assert json.loads((in_home / "market" / "market.json").read_text())["config"]["accounts"] == MARKET.accounts
    assert (in_home / "market" / "truth.parquet").is_file()
    summary = json.loads((in_home / "runs" / f"as_of={AS_OF}" / "summary.json").read_text())
    assert (summary["model"], summary["queued"]) == ("buyer-abuse/1", 50)


@pytest.mark.slow
def test_queue_prints_the_top_rows_with_their_reasons(in_home):
    queue = read_queue(connect(Settings.defaults(in_home).review_db), AS_OF)

    code, out, err = invoke("queue", "--top", 3)

    assert (code, err) == (0, "")
    assert f"Review queue {AS_OF} (top 3 of 50)" in out
    for row in queue.head(3).itertuples():
        assert row.account_id in out
        assert f"{row.score:.3f}" in out
        first_reason = json.loads(row.reasons)[0]["text"]
        assert f"- {first_reason[:40]}" in out
    assert queue["account_id"][3] not in out


@pytest.mark.slow
def test_sellers_shows_the_most_targeted_sellers_as_a_table_csv_or_json(in_home):
    table = review_db.read_seller_exposure(connect(Settings.defaults(in_home).review_db), AS_OF)
    top = table.head(3)

    code, out, err = invoke("sellers", "--as-of", AS_OF, "--top", 3, "--format", "json")
    assert (code, err) == (0, "")
    shown = json.loads(out)
    assert [r["seller_id"] for r in shown] == top["seller_id"].tolist()
    assert [r["target_rank"] for r in shown] == [1, 2, 3]
    assert shown[0]["abuse_cancels"] > 0 and shown[0]["reasons"][0]["text"]
    assert {r["as_of"] for r in shown} == {AS_OF.isoformat()}

    code, out, err = invoke("sellers", "--as-of", AS_OF, "--top", 3, "--format", "csv")
    assert (code, err) == (0, "")
    assert pd.read_csv(io.StringIO(out))["seller_id"].tolist() == top["seller_id"].tolist()

    code, out, err = invoke("sellers", "--as-of", AS_OF, "--top", 3)
    assert (code, err) == (0, "")
    assert f"Sellers most targeted by suspects, {AS_OF} (top 3)" in out
    assert all(seller in out for seller in top["seller_id"])

    code, _, err = invoke("sellers", "--as-of", AS_OF - timedelta(days=1))
    assert code == EX_DATAERR
    assert one_line(err).startswith(f"no seller exposure for {AS_OF - timedelta(days=1)} in the review database")


@pytest.mark.slow
def test_verdict_records_an_analysts_decision(in_home, tmp_path):
    url = f"sqlite:///{tmp_path / 'review.db'}"  # a copy: the module's queue stays as `run` left it
    shutil.copy(in_home / "review.db", tmp_path / "review.db")
    account = read_queue(connect(url), AS_OF)["account_id"][0]

    code, out, err = invoke(
        "verdict",
        "--review-db",
        url,
        "--account",
        account,
        "--as-of",
        AS_OF,
        "--status",
        "confirmed_abuse",
        "--by",
        "ana",
        "--note",
        "same device as R-7",
    )

    assert (code, err) == (0, "")
    assert f"{account} on {AS_OF}: confirmed_abuse" in out
    row = read_queue(connect(url), AS_OF).set_index("account_id").loc[account]
    assert (row["status"], row["reviewed_by"], row["note"]) == ("confirmed_abuse", "ana", "same device as R-7")
    assert pd.notna(row["reviewed_at"])

    code, _, err = invoke(
        "verdict", "--review-db", url, "--account", "nobody", "--as-of", AS_OF, "--status", "cleared", "--by", "ana"
    )
    assert code == EX_CONFIG
    assert one_line(err) == f"no review row for account 'nobody' on {AS_OF}: nothing recorded"


@pytest.mark.slow
def test_features_writes_one_row_per_account_with_account_id_first(in_home, tmp_path):
    out = tmp_path / "features.parquet"

    code, _, err = invoke("features", "--data", in_home / "market", "--as-of", AS_OF, "--out", out)

    assert (code, err) == (0, "")
    table = pl.read_parquet(out)
    assert table.columns == ["account_id", "ring_id", *feature_names()]
    assert table["account_id"].is_unique().all()
    assert table.height == pl.read_parquet(in_home / "market" / "accounts.parquet").height
    assert (tmp_path / "features.rejects.parquet").is_file()
