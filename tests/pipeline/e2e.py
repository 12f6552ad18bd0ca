"""Shared by the end-to-end tests (train, run, CLI): the small simulated market they all use, an
isolated MLflow store, and the CLI invoked in-process.

A plain module (``from e2e import ...``), not conftest.py: see tests/features/feature_frames.py.
"""

from __future__ import annotations

import io
import logging
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest

from models.search import SearchConfig
from pipeline.cli import main
from pipeline.settings import Settings
from pipeline.train import TrainResult
from simulator import MarketConfig

# The market every end-to-end test runs on (simulated once per session by conftest's `market`):
# small enough for seconds per training, with abuse labels on both sides of the validation cut.
MARKET = MarketConfig(accounts=4000, days=70, seed=2)
AS_OF = MARKET.start + timedelta(days=MARKET.days - 1)  # the market's last day, 2026-03-11
LOG = logging.getLogger("buyer_abuse")
# The end-to-end tests train many times: a search of two trials (the defaults and one more) keeps
# every stage and figure of a training while costing a third of the default six.
FAST = SearchConfig(trials=2)
# The review app's users in conftest's `reviewed_run`, all with one password.
APP_USERS = {"ana": "analyst", "bo": "analyst", "vic": "viewer"}
APP_PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Champion:
    """A registry (MLflow store in `home`, at `uri`) whose version 1 is the champion."""

    home: Path
    uri: str
    trained: TrainResult


def settings_in(home: Path, **changes: object) -> Settings:
    """The default settings of working directory `home`, with `changes`."""
    return replace(Settings.defaults(home), **changes)


def use_store(mp: pytest.MonkeyPatch, home: Path) -> str:
    """Point MLflow at a SQLite store in `home` (artifacts in home/mlruns); returns its URI."""
    uri = f"sqlite:///{home / 'mlflow.db'}"
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.chdir(home)
    return uri


def invoke(*args: object) -> tuple[int, str, str]:
    """`buyer-abuse ARGS` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    saved = LOG.handlers[:], LOG.level, LOG.propagate
    try:
        with (
            mock.patch.object(sys, "argv", ["buyer-abuse", *map(str, args)]),
            redirect_stdout(out),
            redirect_stderr(err),
            pytest.raises(SystemExit) as exited,
        ):
            main()
    finally:
        LOG.handlers[:], LOG.level, LOG.propagate = saved
    return exited.value.code, out.getvalue(), err.getvalue()


def one_line(err: str) -> str:
    """The failure line of a command's stderr, checked to be the only line and no traceback."""
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("buyer-abuse: error: "), err
    return err.removeprefix("buyer-abuse: error: ").rstrip("\n")
