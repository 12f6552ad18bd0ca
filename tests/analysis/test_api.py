"""pipeline.analysis as the notebooks import it: every public name of its modules, from one place."""

from __future__ import annotations

import inspect
from importlib import import_module
from types import ModuleType

from pipeline import analysis
from pipeline.analysis.style import STATUS_COLOURS

# By import path: `analysis.queue` and `analysis.truth` are the functions of those names.
SUBJECTS = [
    import_module(f"pipeline.analysis.{name}")
    for name in ("locations", "queue", "account", "rings", "model_report", "sellers", "truth")
]
INTERNAL = {"as_date"}  # shared by the subject modules, not part of the notebooks' API


def test_the_package_hands_out_functions_where_a_module_has_the_same_name():
    assert not [name for name in analysis.__all__ if isinstance(getattr(analysis, name), ModuleType)]
    assert analysis.queue is import_module("pipeline.analysis.queue").queue
    assert analysis.truth is import_module("pipeline.analysis.locations").truth


def test_every_public_function_of_a_subject_module_is_exported_and_nothing_else():
    defined = {
        name
        for module in SUBJECTS
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__ and not name.startswith("_")
    }
    reexported = {"STATUSES", "record_verdict"}  # the review table's, for the notebooks
    assert set(analysis.__all__) == (defined - INTERNAL) | reexported


def test_every_review_status_has_its_colour():
    assert set(analysis.STATUSES) <= STATUS_COLOURS.keys()
