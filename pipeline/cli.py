"""The ``buyer-abuse`` command line: one thin subcommand per stage, each calling the library."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path

import click

from pipeline.errors import ConfigError, PipelineError
from pipeline.progress import configure_logging

DIR = click.Path(path_type=Path, file_okay=False)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"dates look like 2026-03-31, got {text!r}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", "-v", is_flag=True, help="Debug logging.")
def app(verbose: bool) -> None:
    """Find malicious order-then-cancel buyers in a marketplace snapshot."""
    configure_logging(verbose)


@app.command()
@click.option("--out", type=DIR, required=True, help="Directory to write the snapshot and truth.parquet into.")
@click.option("--accounts", type=click.IntRange(min=50), default=5000, show_default=True, help="Buyer accounts.")
@click.option("--days", type=click.IntRange(7, 730), default=60, show_default=True, help="Days of activity.")
@click.option("--seed", type=int, default=1, show_default=True, help="The same seed gives the same market.")
def simulate(out: Path, accounts: int, days: int, seed: int) -> None:
    """Write a synthetic marketplace in the contract format, plus its ground truth."""
    from pipeline.simulate import MarketConfig, write_market

    write_market(MarketConfig(accounts=accounts, days=days, seed=seed), out)


@app.command()
@click.option("--data", type=DIR, required=True, help="Snapshot directory (DATA_CONTRACT.md section 1).")
@click.option("--out", type=DIR, required=True, help="Directory to write rejects.parquet and summary.json into.")
@click.option(
    "--reject-limit", type=click.FloatRange(0, 1), default=0.01, show_default=True,
    help="Largest share of any table that may be rejected before the run stops.",
)
def validate(data: Path, out: Path, reject_limit: float) -> None:
    """Check a snapshot against the data contract; write its rejects and counts."""
    from pipeline.snapshot import load_snapshot, summarize, write_rejects

    result = load_snapshot(data, reject_limit=reject_limit)
    write_rejects(result.rejects, out / "rejects.parquet")
    (out / "summary.json").write_text(json.dumps(summarize(result), indent=2) + "\n")
    click.echo(f"{'table':<18}{'rows':>12}{'rejected':>12}")
    for table, count in result.counts.items():
        click.echo(f"{table:<18}{count['rows']:>12}{count['rejected']:>12}")


def main() -> None:
    """Entry point: every failure becomes one line on stderr and a non-zero exit."""
    try:
        code = app.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:  # bare `buyer-abuse`: show the help
        print(exc.format_message())
        code = 0
    except click.ClickException as exc:
        _fail(f"{exc.format_message()} (see --help)", exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except PipelineError as exc:
        _fail(str(exc), exc.exit_code)
    except Exception as exc:  # an unexpected failure still ends in one line; the trace is opt-in
        if os.environ.get("BUYER_ABUSE_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (set BUYER_ABUSE_DEBUG=1 for the traceback)", 1)
    sys.exit(code or 0)


def _fail(message: str, code: int) -> None:
    print("buyer-abuse: error: " + " ".join(message.split()), file=sys.stderr)
    sys.exit(code)
