"""docs/data_contract.md, generated from the contract package and the command line.

``python -m pipeline.contract_doc > docs/data_contract.md``; a test fails when the file is stale.
The column tables come from ``contract.tables`` (the pandera models the loader validates
with, and the rules worded as the rejects file names them), ``contract.outputs`` and the
click commands of ``pipeline.cli``, so the document cannot drift from the code.
"""

from __future__ import annotations

import click
import polars as pl
from click.core import UNSET

from contract.outputs import (
    CLAIMS,
    CLAIMS_TABLE,
    REVIEW_EVENTS,
    REVIEW_EVENTS_TABLE,
    REVIEW_QUEUE,
    REVIEW_QUEUE_TABLE,
    SCORES,
    SELLER_CANCELS,
    SELLER_EXPOSURE,
    SELLER_EXPOSURE_TABLE,
    SELLER_WINDOW_DAYS,
    TRUTH,
    Column,
)
from contract.tables import FOREIGN_KEYS, LATER_STATES, REPAIRS, TABLES
from contract.values import CANCEL_INITIATORS, ID_MAX_LENGTH, ID_PATTERN, LABEL_OF_STATUS, LABELS, REVIEW_STATUSES
from pipeline import cli, errors
from pipeline.settings import ENVIRONMENT, Settings
from pipeline.snapshot import rule_name

# The defaults as --help shows them in a working directory WORKDIR.
WORKDIR = "WORKDIR"
SHOWN_DEFAULTS = Settings(
    review_db=f"sqlite:///{WORKDIR}/review.db",
    tracking_uri=f"sqlite:///{WORKDIR}/mlflow.db",
    runs=f"{WORKDIR}/runs",
    users_file=f"{WORKDIR}/users.json",
)

INTRO = """\
# Data contract

What the pipeline reads, what it writes, and how it is driven. Every input and output below is
an interface other systems depend on (exports from the marketplace warehouse, analysts'
notebooks, the review tool, schedulers): it changes only by extension (new optional columns,
new optional tables), never by renaming or re-typing what is here.

Generated from the contract package (`contract/`) and the command line by
`python -m pipeline.contract_doc > docs/data_contract.md`; a test fails when it is stale.
"""

INPUT = """\
## 1. Input: a marketplace snapshot directory

One directory, one table per name. Each table is either `NAME.parquet`, a directory `NAME/` of
Parquet files (any partitioning; files and folders starting with `.` or `_` are ignored), or
`NAME.csv` (header row, ISO-8601 timestamps, empty = null). Extra columns are kept but ignored.
All timestamps are UTC; naive timestamps are read as UTC.

The state of a row at an instant T is recovered from its timestamps: a row is known at T only
if its event time is before T, and an order's later states are unset at T when reached at or
after T, together with the columns that only exist once they are ({later}). Nothing that happened
after T may influence a feature, a label or a graph edge computed as of T.
"""

IDS = """\
Identifiers (every `*_id` column): 1 to {max_length} characters, none of them a control character
(U+0000–U+001F, U+007F–U+009F: NUL, tab, newline, ...); any other Unicode character is fine. The
rule reads `TABLE.COLUMN does not match {pattern}` in the rejects file, and a row that breaks it
is rejected alike whatever the review database's backend.
"""

BAD_INPUT = """\
### Bad input

A row that breaks a rule above is never silently dropped and never crashes the run: it goes to
a rejects file beside the run's outputs (`rejects.parquet`: table, key, rule, row as JSON as
exported, action) with the rule worded as in the tables above, and the run's summary counts it.
Cross-table rules are checked against the *valid* rows of the parent table: {foreign}. A row
whose parent row was itself rejected says so (`payment_attempts.order_id refers to a rejected
orders row`) rather than `not in orders`; an empty parent table whose child table has rows
stops the run naming the parent.

Each rule has an action. Most only **reject** (`action` = `rejected`: the row is left out). The
rules below have a stated **repair**: with the action `repair` the row is kept with the fault
fixed as stated and recorded in the rejects file with `action` = `repaired` (it does not count
against the reject limit). A repair never moves an event earlier, so nothing becomes known
sooner than the export says. The action is chosen per rule with `--rule-action RULE=ACTION`
(or `BUYER_ABUSE_RULE_ACTIONS`, several separated by spaces); the defaults:

{repairs}

A run whose rejected share of any table exceeds the reject limit (`--reject-limit`) stops before
writing any run output, with a message naming each table over it, its most common rule and a
few example keys; the rejects file is still written (`validate`: in `--out`; `features`:
beside `--out`; `run`: `RUNS/as_of=DATE.rejects.parquet`). A missing required table or column,
or a file that cannot be parsed, stops the run with a one-line error naming it.
"""

OUTPUTS = """\
## 2. Outputs

### The review table `{table}`

In the review database (a SQLite file by default; any SQLAlchemy URL, PostgreSQL tested): one
row per flagged account per scoring date.

{columns}

Re-running the same date replaces that date's scores but never an analyst's status, reviewer,
time or note. Analysts' verdicts are read back as labels by the next training run: {labels}
(decided at `reviewed_at`, source `review`); other statuses are no decision.

### The case history `{events_table}` and the claims `{claims_table}`

In the same database. Every change an analyst makes to a `{table}` row (in the review app, with
`buyer-abuse verdict`, or with `review_db.record_verdict`) is appended to `{events_table}`,
never updated or deleted; the `{table}` row keeps the latest state. Verdicts recorded before
these tables existed are one `verdict` event each, with a null `from_status`.

{events}

`{claims_table}` holds who works on a queue row now (at most one analyst); a claim ends with a
release or a verdict. A row that was ever claimed is kept by a re-run like a decided one.

{claims}

### The run directory `RUNS/as_of=DATE/`

Written by `buyer-abuse run` and moved into place complete: `summary.json` (counts, stages,
drift), `rejects.parquet`, `features.parquet` (the feature table, docs/features.md),
`queue.parquet` (the rows written to the review table), `sellers.parquet` and
`seller_cancels.parquet` (below) and `scores.parquet`:

{scores}

### Seller exposure: `sellers.parquet` and the table `{sellers_table}`

The seller side of abusive cancellations, per scoring date: one row per seller with a cancelled
order among the orders placed in the {window} days before the end of the as-of date (each in its
state known then), in the run directory and in the review database (a re-run of the date
replaces that date's rows). A *suspect* is a buyer whose label or analyst's verdict in force at
the as-of is abuse (decided before the end of the as-of day, never after), who is in that day's
review queue, or who scored at or above the review cut (the lowest score queued within the
capacity); a buyer whose decision in force is legit is none. Most targeted seller first.

{sellers}

`seller_cancels.parquet` holds the cancelled orders behind it, one row each:

{seller_cancels}

### The simulator's truth `truth.parquet`

Beside a simulated snapshot (never read by the pipeline itself):

{truth}
"""

CLI_INTRO = """\
## 3. Command line

One console script, `buyer-abuse`. `--as-of DATE` means: everything known up to the end of
that UTC day, nothing after. Every command exits non-zero with a one-line reason on stderr on
failure, logs progress on stdout, and is safe to re-run. Settings come from the option, else
the environment variable named, else the default; defaults are in the working directory
(shown here as `{workdir}`). The model registry is MLflow's: `MLFLOW_TRACKING_URI` selects
the tracking store as everywhere in MLflow. `buyer-abuse --version` prints the version.

Exit codes (`sysexits.h` names), for schedulers:

| code | meaning | what to do |
|---|---|---|
| 0 | done | |
| {usage} | usage: a bad option or date, an `--as-of` whose UTC day is not over, an output inside `--data` | fix the command |
| {data} | bad input data: a missing table or column, an unreadable file, rejects over `--reject-limit`, no active account | fix the export |
| {software} | internal error | report it (`BUYER_ABUSE_DEBUG=1` shows the traceback) |
| {temp} | temporary: a run of that date is in progress, the review database or the registry does not answer | retry later |
| {config} | configuration: an unusable review database URL, a newer or foreign schema, no registry or champion | fix the setting |
| {interrupted} | interrupted | |
"""


def _type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "timestamp (UTC)"
    return {pl.String: "string", pl.Float64: "float", pl.Int64: "int", pl.Boolean: "bool"}[dtype]


def _input_table(name: str) -> str:
    table = TABLES[name]
    schema = table.model.to_schema()
    lines = [
        f"### {name} ({'required' if table.required else 'optional'})",
        "",
        f"{table.about[0].upper()}{table.about[1:]}. Key: {', '.join(f'`{k}`' for k in table.key)}; "
        f"event time: `{table.event_time}`.",
        "",
        "| column | type | nullable | rules | notes |",
        "|---|---|---|---|---|",
    ]
    for column, spec in schema.columns.items():
        rules = [rule_name(name, column, check) for check in spec.checks]
        if spec.unique:
            rules.append(rule_name(name, column, "field_uniqueness"))
        rules += [f"{name}.{c} not in {p}" for child, c, p, _ in FOREIGN_KEYS if child == name and c == column]
        shown = "; ".join(f"`{r}`" for r in rules)
        notes = spec.description or ""
        lines.append(
            f"| `{column}` | {_type(spec.dtype.type)} | {'yes' if spec.nullable else 'no'} | {shown} | {notes} |"
        )
    if schema.checks:
        lines += ["", "Row rules: " + "; ".join(f"`{rule_name(name, None, check)}`" for check in schema.checks) + "."]
    return "\n".join(lines) + "\n"


def _repairs() -> str:
    lines = ["| rule id | rule (as in the rejects file) | default | repair |", "|---|---|---|---|"]
    for rule, repair in REPAIRS.items():
        lines.append(f"| `{rule}` | `{repair.table} breaks: {repair.check}` | {repair.default} | {repair.how} |")
    return "\n".join(lines)


def _columns(columns: tuple[Column, ...]) -> str:
    lines = ["| column | type | nullable | notes |", "|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | {c.notes} |" for c in columns]
    return "\n".join(lines)


def _commands() -> list[tuple[str, click.Command, dict]]:
    """(name as typed, command, its shown defaults) of every command, a group's commands after its name."""
    shown = cli.default_map(SHOWN_DEFAULTS)
    out = []
    for name, command in cli.app.commands.items():
        if isinstance(command, click.Group):
            out += [(f"{name} {sub}", c, shown[name].get(sub, {})) for sub, c in command.commands.items()]
        else:
            out.append((name, command, shown.get(name, {})))
    return out


def _command(name: str, command: click.Command, defaults: dict) -> str:
    first = (command.help or "").strip().splitlines()[0]
    lines = [f"### `buyer-abuse {name}`", "", first, "", "| option | value | default | environment | meaning |"]
    lines.append("|---|---|---|---|---|")
    for param in command.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        value = "flag" if param.is_flag else param.type.name.upper()
        if param.required:
            default = "required"
        elif isinstance(param.show_default, str) and (param.name in defaults or callable(param.default)):
            default = f"`{param.show_default}`"  # a list or a value found at run time, shown in words
        elif param.name in defaults:
            default = f"`{defaults[param.name]}`"
        elif not param.is_flag and param.default is not None and param.default is not UNSET:
            default = f"`{param.default}`"
        else:
            default = ""
        env = f"`{ENVIRONMENT[param.name]}`" if param.name in ENVIRONMENT else ""
        meaning = " ".join((param.help or "").split()).replace("|", "\\|")
        lines.append(f"| `{'` / `'.join(param.opts)}` | {value} | {default} | {env} | {meaning} |")
    return "\n".join(lines) + "\n"


def markdown() -> str:
    later = ", ".join(
        f"`{state}`" + (f" with {', '.join(f'`{c}`' for c in deps)}" if deps else "")
        for state, deps in LATER_STATES.items()
    )
    foreign = "; ".join(
        f"`{child}.{column}` must exist in `{parent}.{pcolumn}`" for child, column, parent, pcolumn in FOREIGN_KEYS
    )
    values = "\n".join(
        [
            "Value sets: cancel initiators "
            + ", ".join(f"`{v}`" for v in CANCEL_INITIATORS)
            + "; labels "
            + ", ".join(f"`{v}`" for v in LABELS)
            + "; review statuses "
            + ", ".join(f"`{v}`" for v in REVIEW_STATUSES)
            + ".",
        ]
    )
    labels = ", ".join(f"`{status}` → `{label}`" for status, label in LABEL_OF_STATUS.items())
    parts = [
        INTRO,
        INPUT.format(later=later),
        values + "\n",
        IDS.format(max_length=ID_MAX_LENGTH, pattern=ID_PATTERN),
        *(_input_table(name) for name in TABLES),
        BAD_INPUT.format(foreign=foreign, repairs=_repairs()),
        OUTPUTS.format(
            table=REVIEW_QUEUE_TABLE,
            columns=_columns(REVIEW_QUEUE),
            events_table=REVIEW_EVENTS_TABLE,
            events=_columns(REVIEW_EVENTS),
            claims_table=CLAIMS_TABLE,
            claims=_columns(CLAIMS),
            labels=labels,
            scores=_columns(SCORES),
            sellers_table=SELLER_EXPOSURE_TABLE,
            window=SELLER_WINDOW_DAYS,
            sellers=_columns(SELLER_EXPOSURE),
            seller_cancels=_columns(SELLER_CANCELS),
            truth=_columns(TRUTH),
        ),
        CLI_INTRO.format(
            workdir=WORKDIR,
            usage=errors.EX_USAGE,
            data=errors.EX_DATAERR,
            software=errors.EX_SOFTWARE,
            temp=errors.EX_TEMPFAIL,
            config=errors.EX_CONFIG,
            interrupted=errors.EX_INTERRUPTED,
        ),
        *(_command(name, command, defaults) for name, command, defaults in _commands()),
    ]
    return "\n".join(parts)


if __name__ == "__main__":
    print(markdown(), end="")
