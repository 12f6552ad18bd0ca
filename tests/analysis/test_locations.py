"""pipeline.analysis.locations: URLs and run directories as a notebook gives them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from pipeline import analysis
from pipeline.errors import InputError


def test_a_relative_sqlite_url_is_made_absolute_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "review.db").touch()
    monkeypatch.chdir(tmp_path)
    assert analysis.sqlite_url("sqlite:///review.db") == f"sqlite:///{tmp_path / 'review.db'}"
    with pytest.raises(InputError, match="no SQLite database"):
        analysis.sqlite_url("sqlite:///../nowhere/review.db")
    assert analysis.sqlite_url("postgresql+psycopg://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"


def test_run_dir_is_the_latest_complete_run(tmp_path):
    for day, done in (("2026-03-09", True), ("2026-03-10", True), ("2026-03-11", False)):
        (tmp_path / f"as_of={day}").mkdir()
        if done:
            (tmp_path / f"as_of={day}" / "summary.json").write_text(json.dumps({"as_of": day}))
    assert analysis.run_dir(tmp_path).name == "as_of=2026-03-10"
    assert analysis.run_dir(tmp_path, "2026-03-09").name == "as_of=2026-03-09"
    assert analysis.run_as_of(analysis.run_dir(tmp_path)) == date(2026, 3, 10)
    with pytest.raises(InputError, match="no complete run"):
        analysis.run_dir(tmp_path, date(2026, 3, 11))
