"""Fixtures: for the snapshot tests a fresh valid market per test and a writer of snapshot
directories; for the end-to-end tests one simulated market and one trained champion per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from e2e import APP_PASSWORD, APP_USERS, AS_OF, FAST, MARKET, Champion, settings_in
from snapshot_market import frame, valid_market

from simulator import write_market


@pytest.fixture(scope="session")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """e2e.MARKET written as a snapshot directory (with truth.parquet); tests only read it."""
    out = tmp_path_factory.mktemp("market")
    write_market(MARKET, out)
    return out


@pytest.fixture(scope="session")
def champion(market: Path, tmp_path_factory: pytest.TempPathFactory) -> Champion:
    """A registry whose version 1, trained on `market` as of AS_OF, is the champion; tests only read it."""
    from pipeline.train import train

    home = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)  # MLflow puts the artifacts of a new experiment under the working directory
        trained = train(market, AS_OF, settings_in(home), searching=FAST)
    assert (trained.version, trained.alias) == ("1", "champion")
    return Champion(home, settings_in(home).tracking_uri, trained)


@pytest.fixture(scope="session")
def reviewed_run(market: Path, champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory where the nightly run of `market` as of AS_OF has written review.db
    (40 accounts queued) and runs/, with the review app's users.json (e2e.APP_USERS); tests
    copy review.db before changing it."""
    from pipeline.review_app.users import add_user
    from pipeline.run import run

    home = tmp_path_factory.mktemp("reviewed")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        run(market, AS_OF, settings_in(home, tracking_uri=champion.uri, capacity=40))
    for name, role in APP_USERS.items():
        add_user(home / "users.json", name, role, APP_PASSWORD)
    return home


@pytest.fixture
def tables() -> dict[str, list[dict]]:
    """snapshot_market.valid_market(): rows a test may change before writing them."""
    return valid_market()


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(tables, fmt="parquet") -> a snapshot directory; values may be row lists, frames or CSV text."""

    def write(tables: dict[str, list[dict] | pl.DataFrame | str], fmt: str = "parquet") -> Path:
        out = tmp_path / "snapshot"
        out.mkdir(exist_ok=True)
        for name, data in tables.items():
            if isinstance(data, str):
                (out / f"{name}.csv").write_text(data, encoding="utf-8")
                continue
            df = data if isinstance(data, pl.DataFrame) else frame(name, data)
            if fmt == "csv":
                df.write_csv(out / f"{name}.csv")
            else:
                df.write_parquet(out / f"{name}.parquet")
        return out

    return write
