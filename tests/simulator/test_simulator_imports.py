"""The simulator is its own subsystem: it imports the standard library, numpy, polars, pyarrow
and the project's `contract` package, and nothing else (never pipeline, features or models)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import simulator

PACKAGE = Path(simulator.__file__).parent
ALLOWED = {"numpy", "polars", "pyarrow", "contract", "simulator"}


def imported(path: Path) -> set[str]:
    """Every module name `path` imports (absolute names; relative imports are the package's own)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add("simulator" if node.level else node.module or "")
    return names


def forbidden(names: set[str]) -> set[str]:
    """The names outside the standard library and ALLOWED."""
    return {name for name in names if (top := name.split(".")[0]) not in ALLOWED and top not in sys.stdlib_module_names}


MODULES = sorted(PACKAGE.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_each_simulator_module_imports_only_stdlib_numpy_polars_pyarrow_and_contract(path):
    assert forbidden(imported(path)) == set()


def test_the_check_sees_every_module_and_catches_a_pipeline_import(tmp_path):
    assert {path.stem for path in MODULES} >= {"params", "population", "entities", "orders", "labels", "tables"}
    bad = tmp_path / "bad.py"
    bad.write_text("import json\nimport numpy as np\nfrom pipeline.progress import track\nimport features.build\n")
    assert forbidden(imported(bad)) == {"pipeline.progress", "features.build"}


def test_importing_the_simulator_loads_no_pipeline_features_or_models_module():
    code = "import sys, simulator; print(sorted({m.split('.')[0] for m in sys.modules}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(ast.literal_eval(done.stdout))
    assert loaded.isdisjoint({"pipeline", "features", "models"}), loaded
