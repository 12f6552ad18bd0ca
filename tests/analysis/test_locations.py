"""pipeline.analysis.locations: URLs and run directories as a notebook gives them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from pipeline import analysis, rundirs
from pipeline.errors import ConfigError, InputError


def test_a_relative_sqlite_url_is_made_absolute_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "review.db").touch()
    monkeypatch.chdir(tmp_path)
    assert analysis.sqlite_url("sqlite:///review.db") == f"sqlite:///{tmp_path / 'review.db'}"
    with pytest.raises(InputError, match="no SQLite database"):
        analysis.sqlite_url("sqlite:///../nowhere/review.db")
    assert analysis.sqlite_url("postgresql+psycopg://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"


def test_run_dir_is_the_latest_complete_run(tmp_path):
    day = {d: date(2026, 3, d) for d in (9, 10, 11)}
    for d, done in ((9, True), (10, True), (11, False)):
        directory = rundirs.run_dir(tmp_path, day[d])  # named by rundirs, as the batch run names it
        directory.mkdir()
        if done:
            (directory / rundirs.SUMMARY).write_text(json.dumps({"as_of": day[d].isoformat()}))
    assert analysis.run_dir(tmp_path) == rundirs.run_dir(tmp_path, day[10])
    assert analysis.run_dir(tmp_path, "2026-03-09") == rundirs.run_dir(tmp_path, day[9])
    assert analysis.run_as_of(analysis.run_dir(tmp_path)) == date(2026, 3, 10)
    with pytest.raises(InputError, match="no complete run"):
        analysis.run_dir(tmp_path, date(2026, 3, 11))


def test_run_dir_of_an_empty_folder_or_a_misspelt_date_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no complete run under"):
        analysis.run_dir(tmp_path)
    for misspelt in ("10/03/2026", "20260310"):
        with pytest.raises(ConfigError, match="not a date YYYY-MM-DD"):
            analysis.run_dir(tmp_path, misspelt)
