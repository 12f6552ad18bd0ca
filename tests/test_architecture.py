"""The import rule of docs/architecture.md: layers import only downwards, and the pure layers
hold no I/O libraries. Read from each module's own import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("contract", "features", "models", "simulator", "pipeline")
# What each package may import of the project (itself included).
ALLOWED = {
    "contract": {"contract"},
    "features": {"contract", "features"},
    "models": {"contract", "features", "models"},
    "simulator": {"contract", "simulator"},
    "pipeline": set(PROJECT),
}
# Libraries that do I/O or hold global state: never in the pure layers.
SIDE_EFFECTS = {"sqlalchemy", "mlflow", "filelock", "psycopg", "pyspark", "rich", "click", "subprocess", "shutil"}
PURE = ("contract", "features", "models")


def imports(path: Path) -> set[str]:
    """Top-level names of every module `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", [p for p in PROJECT if (ROOT / p).is_dir()])
def test_a_package_imports_only_the_layers_below_it(package):
    for path in modules(package):
        wrong = (imports(path) & set(PROJECT)) - ALLOWED[package]
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


@pytest.mark.parametrize("package", PURE)
def test_the_pure_layers_hold_no_io_library(package):
    for path in modules(package):
        wrong = imports(path) & SIDE_EFFECTS
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_no_module_below_the_command_line_reads_the_environment():
    readers = []
    for package in PROJECT:
        for path in modules(package):
            if path.name == "cli.py":
                continue
            source = path.read_text()
            if any(read in source for read in ("os.environ.get", "os.environ[", "os.getenv", "Path.cwd()")):
                readers.append(str(path.relative_to(ROOT)))
    assert readers == []
