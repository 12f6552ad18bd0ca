"""The analysts' notebooks: committed clean, and executable top to bottom on a simulated market.

The slow test simulates a small market, trains and registers a model and runs the nightly batch
through the library, then executes every notebook with papermill, its parameters pointed at
that market, in a kernel that runs this interpreter (a kernelspec written to a temporary
JUPYTER_PATH, so neither ~/.local/share/jupyter nor the machine's default kernel matters).
"""

from __future__ import annotations

import ast
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DOCS = ROOT / "docs" / "notebooks.md"
KERNEL = "buyer-abuse-tests"
# The least number of plots each notebook must show on a simulated market.
PLOTS = {"01_review_queue.ipynb": 1, "02_account_investigation.ipynb": 3, "03_model_report.ipynb": 8}


def parameters_cells(book: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]


def parameter_names(book: nbformat.NotebookNode) -> list[str]:
    """Names assigned in the parameters cell (each a plain `name = literal`, so papermill can override it)."""
    (cell,) = parameters_cells(book)
    names = []
    for statement in ast.parse(cell.source).body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1, ast.unparse(statement)
        assert isinstance(statement.targets[0], ast.Name), ast.unparse(statement)
        ast.literal_eval(statement.value)  # a literal: nothing to compute before papermill's values land
        names.append(statement.targets[0].id)
    return names


def test_the_three_notebooks_are_committed():
    assert [p.name for p in NOTEBOOKS] == sorted(PLOTS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_no_outputs(path: Path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {cell.id} has outputs: strip them before committing"
            assert cell.execution_count is None, f"cell {cell.id} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_one_parameters_cell_of_literals(path: Path):
    book = nbformat.read(path, as_version=4)
    assert len(parameters_cells(book)) == 1, "exactly one cell tagged `parameters`"
    names = parameter_names(book)
    assert {"data", "review_db", "runs", "as_of"} <= set(names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameter_is_documented(path: Path):
    docs = DOCS.read_text()
    assert path.name in docs
    missing = [name for name in parameter_names(nbformat.read(path, as_version=4)) if f"`{name}`" not in docs]
    assert not missing, f"docs/notebooks.md does not describe {missing}"


# -- executed on a simulated market -----------------------------------------------------------


@dataclass(frozen=True)
class Market:
    root: Path
    as_of: date
    capacity: int

    @property
    def review_db(self) -> str:
        return f"sqlite:///{self.root / 'review.db'}"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.root / 'mlflow.db'}"

    def parameters(self, **more) -> dict:
        return {"data": str(self.root / "market"), "review_db": self.review_db, "runs": str(self.root / "runs"),
                "as_of": self.as_of.isoformat(), **more}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    """A 3,000-account, 70-day market, a registered champion and one complete nightly run."""
    from pipeline.run import run
    from pipeline.settings import Settings
    from pipeline.train import train
    from simulator import MarketConfig, write_market

    root = tmp_path_factory.mktemp("notebooks")
    cfg = MarketConfig(accounts=3000, days=70, seed=4)
    market = Market(root, cfg.start + timedelta(days=cfg.days - 1), capacity=50)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", market.tracking_uri)
        mp.chdir(root)  # MLflow puts ./mlruns beside the working directory
        write_market(cfg, root / "market")
        settings = replace(Settings.defaults(root), capacity=market.capacity)
        train(root / "market", market.as_of, settings)
        run(root / "market", market.as_of, settings)
        # A kernel running this interpreter, found before any other through JUPYTER_PATH.
        spec = root / "jupyter" / "kernels" / KERNEL
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "buyer-abuse tests", "language": "python",
        }))
        mp.setenv("JUPYTER_PATH", str(root / "jupyter"))
        mp.setenv("IPYTHONDIR", str(root / "ipython"))  # the kernel's profile stays out of $HOME
        mp.delenv("MLFLOW_TRACKING_URI")  # the notebooks must use their tracking_uri parameter
        yield market


def execute(path: Path, market: Market, **parameters) -> nbformat.NotebookNode:
    import papermill

    out = market.root / f"executed_{path.name}"
    papermill.execute_notebook(
        str(path), str(out), parameters=market.parameters(**parameters), kernel_name=KERNEL,
        cwd=str(path.parent), progress_bar=False, execution_timeout=600,
    )
    return nbformat.read(out, as_version=4)


def outputs(book: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for c in book.cells if c.cell_type == "code" for o in c.outputs]


def assert_ran_clean(book: nbformat.NotebookNode, name: str) -> None:
    errors = [f"{o.ename}: {o.evalue}" for o in outputs(book) if o.output_type == "error"]
    assert not errors, errors
    stderr = [o.text for o in outputs(book) if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{name} wrote to stderr: {stderr}"
    plots = sum("image/png" in o.get("data", {}) for o in outputs(book))
    assert plots >= PLOTS[name], f"{name} showed {plots} plots, expected at least {PLOTS[name]}"


@pytest.mark.slow
def test_review_queue_notebook_runs_and_records_a_verdict(market: Market):
    from pipeline import review_db

    book = execute(ROOT / "notebooks" / "01_review_queue.ipynb", market,
                   verdict_status="escalated", reviewed_by="ci", verdict_note="from the notebook test")
    assert_ran_clean(book, "01_review_queue.ipynb")
    queue = review_db.read_queue(review_db.connect(market.review_db), market.as_of)
    decided = queue[queue["status"] != "open"]
    assert len(queue) == market.capacity
    assert decided[["rank", "status", "reviewed_by", "note"]].values.tolist() == [
        [decided["rank"].min(), "escalated", "ci", "from the notebook test"]
    ]
    assert decided["rank"].iloc[0] == queue["rank"].min()  # the top open account


@pytest.mark.slow
def test_account_investigation_notebook_runs(market: Market):
    book = execute(ROOT / "notebooks" / "02_account_investigation.ipynb", market)
    assert_ran_clean(book, "02_account_investigation.ipynb")


@pytest.mark.slow
def test_account_investigation_notebook_runs_for_an_account_outside_any_ring(market: Market):
    import polars as pl

    features = pl.read_parquet(market.root / "runs" / f"as_of={market.as_of}" / "features.parquet")
    loner = features.filter(pl.col("ring_id").is_null() & (pl.col("orders_lifetime") > 0))["account_id"][0]
    book = execute(ROOT / "notebooks" / "02_account_investigation.ipynb", market, account=loner)
    assert_ran_clean(book, "02_account_investigation.ipynb")


@pytest.mark.slow
def test_model_report_notebook_runs(market: Market):
    book = execute(ROOT / "notebooks" / "03_model_report.ipynb", market, tracking_uri=market.tracking_uri)
    assert_ran_clean(book, "03_model_report.ipynb")
    text = "\n".join(o.get("text", "") for o in outputs(book) if o.output_type == "stream")
    assert f"the run queued {market.capacity}" in text
