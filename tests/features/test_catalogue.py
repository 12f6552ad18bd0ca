"""The feature catalogue: one declaration per column, and docs/features.md generated from it."""

from __future__ import annotations

from pathlib import Path

from features.catalogue import catalogue, feature_names, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_docs_features_md_is_generated_from_the_current_declarations() -> None:
    assert DOC.read_text() == markdown(catalogue()), "regenerate: python -m features.catalogue > docs/features.md"


def test_every_feature_has_a_unique_name_and_a_meaning_window_unit_and_family() -> None:
    names = feature_names()
    assert len(names) == len(set(names))
    for f in catalogue():
        assert f.meaning and f.window and f.unit and f.family, f.name
