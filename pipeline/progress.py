"""Progress for long work: rich bars and spinners on a terminal, plain log lines otherwise.

Logs and progress go to stdout: stderr carries nothing but the one line of a failure, so a
scheduler (or a person) reads a failure without searching through progress.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

log = logging.getLogger("buyer_abuse")
T = TypeVar("T")

_console = Console()


def interactive() -> bool:
    return _console.is_terminal


def configure_logging(verbose: bool = False) -> None:
    """Route the package's log records to stdout, once, at the entry point."""
    level = logging.DEBUG if verbose else logging.INFO
    if interactive():
        handler: logging.Handler = RichHandler(console=_console, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


class Stages:
    """Times named stages of a job; `seconds` feeds the run summary."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        log.info("%s ...", name)
        start = time.perf_counter()
        if interactive():
            with _console.status(f"{name} ..."):
                yield
        else:
            yield
        took = time.perf_counter() - start
        self.seconds[name] = round(took, 3)
        log.info("%s done in %.1f s", name, took)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar on a terminal, or a log line per tenth of the way."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if interactive():
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=_console, transient=True) as progress:
            yield from progress.track(items, total=total, description=description)
        return
    step = max(1, (total or 10) // 10)
    for done, item in enumerate(items, start=1):
        yield item
        if total and (done % step == 0 or done == total):
            log.info("%s: %d/%d", description, done, total)
