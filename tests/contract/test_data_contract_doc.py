"""docs/data_contract.md is generated from the contract package and the command line."""

from __future__ import annotations

from pathlib import Path

from contract.tables import TABLES
from pipeline.contract_doc import markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "data_contract.md"


def test_docs_data_contract_md_is_generated_from_the_current_contract() -> None:
    assert DOC.read_text() == markdown(), "regenerate: python -m pipeline.contract_doc > docs/data_contract.md"


def test_every_input_column_and_command_is_documented() -> None:
    text = DOC.read_text()
    for name, table in TABLES.items():
        assert f"### {name} (" in text
        for column in table.model.to_schema().columns:
            assert f"| `{column}` |" in text, (name, column)
    for command in ("simulate", "validate", "features", "train", "run", "backfill", "queue", "verdict"):
        assert f"### `buyer-abuse {command}`" in text
