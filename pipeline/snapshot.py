"""Read a marketplace snapshot directory (docs/data_contract.md section 1) into typed, valid tables.

`load_snapshot` returns every table cast to the types of `pipeline.contract` with the rows that
break a rule taken out, plus one reject line per (row, rule) broken and per-table counts. It
stops with `InputError` on a snapshot it cannot use at all and with `RejectLimitExceeded` when
too large a share of a table is rejected. It writes nothing; `write_rejects` does.

How a table is checked, in order:

1. type: each contract column is cast to its contract type. A value that does not cast rejects
   its row; a Parquet column whose stored type can never hold the contract type rejects every
   row. The null a failed cast leaves is not held against the row in step 2: the row still
   answers for its other columns (a duplicated key, say), but not for that one nor for the
   dataframe checks.
2. the table's pandera model: nulls, uniqueness, value checks and the dataframe checks.
3. foreign keys, in `contract.FOREIGN_KEYS` order, against the *valid* rows of the parent table;
   a row whose parent was itself rejected says so (``refers to a rejected orders row``).

Before step 2, the rules with a stated repair (`contract.tables.REPAIRS`) whose action is
``repair`` fix the rows that break them; each such row stays, with a line in the rejects file
whose action is ``repaired``. A table over the reject limit is still checked to the end (with
the masks of step 2 only), so that the rejects of every table can be written before the load
stops.

Speed: pandera turns each failing row of a dataframe check into Python objects, which takes
minutes and tens of GB when millions of rows fail. So step 2 first evaluates the model's own
checks (the same `Check` objects, through pandera's check backend) as boolean masks over all
rows; those cheap masks decide the reject limit early, and `Model.validate` then reports only
the rows the masks flagged, a chunk at a time. That is exact because every contract rule is
row-wise, except uniqueness, and every copy of a duplicated key is flagged and lands in the
same chunk. Uniqueness and timestamp parsing, the slow parts on 15M rows, are done the fast way
(see `_duplicated`, `_parse_iso`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pandera.errors
import polars as pl
from pandera.api.checks import Check

from contract.tables import FOREIGN_KEYS, REPAIRS, TABLES, RuleAction, default_actions, polars_schema
from pipeline.errors import ConfigError, InputError, RejectLimitExceeded
from pipeline.files import write_parquet_atomic
from pipeline.progress import Stages

REJECTS_SCHEMA = {"table": pl.String, "key": pl.String, "rule": pl.String, "row": pl.String, "action": pl.String}
REJECTED, REPAIRED = "rejected", "repaired"  # the `action` of a reject line
# Spark and Hadoop leave markers (_SUCCESS, _committed_*) and checksums (.part-0.crc) beside the data.
HIDDEN = (".", "_")
BOOL_WORDS = {"true": True, "false": False, "1": True, "0": False}
TYPE_WORDS = {pl.String: "a string", pl.Float64: "a float", pl.Int64: "an int", pl.Boolean: "a bool"}
ISO_UTC = "%Y-%m-%dT%H:%M:%S%.fZ"
REPORT_CHUNK = 250_000  # rows per Model.validate call when many rows fail
WHOLE_ROW = "*"  # the `column` of a violation of a rule on several columns (a dataframe check)
VIOLATIONS = {"row_nr": pl.UInt32, "rule": pl.String, "column": pl.String}
T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """Valid rows only, contract columns typed as `contract.polars_schema(table)`, extra columns
    after them. Frames, or lazy scans of spilled Parquet when loaded with `spill`."""

    accounts: pl.DataFrame
    orders: pl.DataFrame
    payment_attempts: pl.DataFrame
    sessions: pl.DataFrame | None  # None when the optional table is absent
    labels: pl.DataFrame | None


@dataclass(frozen=True)
class LoadResult:
    snapshot: Snapshot
    rejects: pl.DataFrame  # table, key, rule, row (the raw row as JSON), action; one line per (row, rule)
    counts: dict[str, dict[str, int]]  # {table: {"rows": read, "rejected": rows with any reject}}
    repaired: dict[str, int] | None = None  # {table: rows kept after a repair}


def load_snapshot(
    data_dir: Path,
    *,
    reject_limit: float = 0.01,
    stages: Stages | None = None,
    spill: Path | None = None,
    actions: dict[str, RuleAction] | None = None,
) -> LoadResult:
    """The snapshot in `data_dir`: the valid rows of every table present, typed; a reject line per
    (row, rule) broken; rows read and rejected per table. `stages` times reading and validating
    each table (a fresh one if not given).

    With `spill`, each table's valid rows are written to `spill/NAME.parquet` as soon as it is
    validated and the snapshot holds lazy scans of those files: memory then holds one table at
    a time (plus the keys foreign keys need) instead of the whole snapshot.

    `actions` chooses, per repairable rule id (`contract.tables.REPAIRS`), whether its rows are
    repaired or rejected; rules not named keep their default.

    Raises InputError for a missing required table or column, an unreadable file, or an empty
    table whose child table has rows, and RejectLimitExceeded, carrying every reject line found
    (`rejects`), when more than `reject_limit` (a share) of any table is rejected."""
    if not 0 <= reject_limit <= 1:
        raise ConfigError(f"the reject limit is a share between 0 and 1, got {reject_limit}")
    actions = default_actions() | dict(actions or {})
    stages = stages or Stages()
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"snapshot directory {data_dir} does not exist")
    # Every table is opened and its columns checked before any is read in full, so that a
    # missing column in the last table fails in a second, not after minutes of reading.
    sources = {name: src for name in TABLES if (src := _open(data_dir, name)) is not None}

    frames: dict[str, pl.DataFrame | pl.LazyFrame] = {}
    parents: dict[str, pl.DataFrame] = {}
    rejected_keys: dict[str, pl.Series] = {}
    rejects: list[pl.DataFrame] = []
    counts: dict[str, dict[str, int]] = {}
    repaired: dict[str, int] = {}
    over: list[str] = []
    for name, (path, lazy) in sources.items():
        valid, lines, rows, too_many = _load_table(
            name, path, lazy, parents, rejected_keys, reject_limit, stages, actions, counts
        )
        rejects.append(lines)
        dropped = lines.filter(pl.col("action") == REJECTED)
        counts[name] = {"rows": rows, "rejected": dropped["row_nr"].n_unique()}
        repaired[name] = lines.filter(pl.col("action") == REPAIRED)["row_nr"].n_unique()
        rejected_keys[name] = dropped["key"].unique()
        if too_many:
            over.append(too_many)
        if spill is None:
            frames[name] = parents[name] = valid
            continue
        # Bounded memory: the valid rows go to Parquet at once; only the keys a later table's
        # foreign keys need stay in memory, and the snapshot scans the spilled files lazily.
        write_parquet_atomic(valid, Path(spill) / f"{name}.parquet")
        keys = [pcolumn for _, _, parent, pcolumn in FOREIGN_KEYS if parent == name]
        parents[name] = valid.select(keys)
        del valid
        frames[name] = pl.scan_parquet(Path(spill) / f"{name}.parquet")
    all_rejects = pl.concat(rejects).select(*REJECTS_SCHEMA)
    if over:
        raise RejectLimitExceeded(
            "; ".join(over) + f" (raise --reject-limit, now {reject_limit:g}, to accept them, or fix the export)",
            all_rejects,
        )
    snapshot = Snapshot(**{name: frames.get(name) for name in TABLES})
    return LoadResult(snapshot, all_rejects, counts, repaired)


def check_snapshot(data_dir: Path) -> list[Path]:
    """The input files of the snapshot in `data_dir`, having checked that it exists and holds every
    required table with every contract column (schemas only: no row is read). Raises InputError."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"snapshot directory {data_dir} does not exist")
    files = []
    for name in TABLES:
        found = _open(data_dir, name)
        if found is not None:
            files += [found[0]] if found[0].is_file() else _data_files(found[0])
    return files


def fingerprint(data_dir: Path) -> str:
    """sha256 of the snapshot's input files: each file's path inside `data_dir` and its bytes, in
    path order. The same files give the same fingerprint on any machine, whatever floats the
    features come to; any changed, added or removed file changes it."""
    data_dir = Path(data_dir)
    digest = hashlib.sha256()
    for path in sorted(check_snapshot(data_dir)):
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


def write_rejects(rejects: pl.DataFrame, path: Path) -> None:
    """Write the reject lines to Parquet at `path`, replacing it whole (a re-run never leaves half a file)."""
    write_parquet_atomic(rejects.select(*REJECTS_SCHEMA), path)


def summarize(result: LoadResult) -> dict:
    """The run-summary entry of a load: rows and rejected rows per table, reject lines per rule."""
    by_rule = result.rejects["rule"].value_counts(sort=True)
    repaired = result.repaired or {}
    return {
        "tables": result.counts,
        "rejected_rows": sum(c["rejected"] for c in result.counts.values()),
        "repaired": repaired,
        "repaired_rows": sum(repaired.values()),
        "rejects": result.rejects.height,
        "rules": dict(zip(by_rule["rule"].to_list(), by_rule["count"].to_list(), strict=True)),
    }


# -- reading ---------------------------------------------------------------------------------


def _open(data_dir: Path, name: str) -> tuple[Path, pl.LazyFrame] | None:
    """The lazy raw table `name` (all-string for CSV) and where it lives, or None if absent and optional."""
    forms = [p for p in (data_dir / f"{name}.parquet", data_dir / name, data_dir / f"{name}.csv") if p.exists()]
    if len(forms) > 1:
        raise InputError(f"{name}: found both {' and '.join(map(str, forms))}; keep exactly one")
    if not forms:
        if TABLES[name].required:
            raise InputError(
                f"{name}: required table missing, expected {name}.parquet, {name}/ or {name}.csv in {data_dir}"
            )
        return None
    path = forms[0]
    if path.suffix == ".csv":
        # All columns as text: the contract types are applied by _cast, one row at a time.
        lazy = pl.scan_csv(path, infer_schema=False).with_columns(pl.all().replace("", None))  # "" is null in CSV
    else:
        files = [path] if path.is_file() else _data_files(path)
        if not files:
            raise InputError(f"{name}: no Parquet files in {path}")
        lazy = pl.scan_parquet(files, hive_partitioning=path.is_dir())
    columns = _guarded(name, path, lazy.collect_schema).names()
    missing = [c for c in polars_schema(name) if c not in columns]
    if missing:
        raise InputError(f"{name}: missing column{'s' * (len(missing) > 1)} {', '.join(missing)} in {path}")
    return path, lazy


def _data_files(directory: Path) -> list[Path]:
    """The data files under `directory` at any depth (e.g. hive `day=2026-01-01/part-0.parquet`)."""
    return sorted(
        f
        for f in directory.rglob("*")
        if f.is_file() and not any(part.startswith(HIDDEN) for part in f.relative_to(directory).parts)
    )


def _collect(name: str, path: Path, lazy: pl.LazyFrame) -> pl.DataFrame:
    """The raw rows of one table."""
    return _guarded(name, path, lazy.collect)


def _guarded(name: str, path: Path, read: Callable[[], T]) -> T:
    """`read()`, with any failure to parse turned into a one-line InputError naming the file."""
    try:
        return read()
    except (Exception, pl.exceptions.PanicException) as exc:  # polars panics are BaseExceptions
        culprit = _first_unreadable(path) or path
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{name}: cannot read {culprit}: {reason}") from None


def _first_unreadable(path: Path) -> Path | None:
    """In a directory of Parquet files, the first one that does not read alone (None if all do)."""
    if not path.is_dir():
        return None
    for f in _data_files(path):
        try:
            pl.scan_parquet(f).collect()
        except (Exception, pl.exceptions.PanicException):
            return f
    return None


# -- step 1: types ---------------------------------------------------------------------------


def _cast(name: str, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`raw` with its contract columns cast to the contract types (extras kept after them, as read),
    and the type violations: (row_nr, rule, column) for each value that would not cast."""
    contract = polars_schema(name)
    casts = {column: _caster(pl.col(column), raw.schema[column], target) for column, target in contract.items()}
    typed = raw.select(
        *(
            (pl.repeat(None, pl.len(), dtype=contract[c]) if cast is None else cast).alias(c)
            for c, cast in casts.items()
        ),
        *(c for c in raw.columns if c not in contract),
    )
    failed = {}
    for column, cast in casts.items():
        if cast is None:  # e.g. a timestamp stored as bool: no present value of it can be right
            rule = f"type: {column} is stored as {raw.schema[column]}, not {_word(contract[column])}"
            failed[rule, column] = raw[
                column
            ].is_not_null()  # an empty value is just empty (a nullable column all null)
        elif raw.schema[column] != contract[column]:
            failed[f"type: {column} is not {_word(contract[column])}", column] = (
                raw[column].is_not_null() & typed[column].is_null()
            )
    return typed, _violations(failed)


def _caster(col: pl.Expr, stored: pl.DataType, target: pl.DataType) -> pl.Expr | None:
    """`col` cast from its stored type to the contract type, null where a value does not cast;
    None when the stored type can never hold the contract type."""
    if stored == target:
        return col
    if stored == pl.Null:
        return col.cast(target)
    text = col.str.strip_chars() if stored == pl.String else None
    if target == pl.String and (stored.is_integer() or isinstance(stored, pl.Categorical | pl.Enum)):
        return col.cast(pl.String)  # e.g. integer ids
    if target == pl.Float64 and (stored.is_numeric() or text is not None):
        return (text if text is not None else col).cast(pl.Float64, strict=False)
    if target == pl.Int64:
        if stored.is_integer():
            return col.cast(pl.Int64, strict=False)
        if stored.is_float():  # 2.0 is a count, 2.5 is not
            return pl.when(col == col.round()).then(col.cast(pl.Int64, strict=False))
        if text is not None:
            return text.cast(pl.Int64, strict=False)
    if target == pl.Boolean:
        if stored.is_integer():
            return col.replace_strict({1: True, 0: False}, default=None, return_dtype=pl.Boolean)
        if text is not None:
            return text.str.to_lowercase().replace_strict(BOOL_WORDS, default=None, return_dtype=pl.Boolean)
    if isinstance(target, pl.Datetime):
        # Naive timestamps are UTC (contract); aware ones are the same instant seen from UTC.
        if isinstance(stored, pl.Datetime):
            utc = col.dt.replace_time_zone("UTC") if stored.time_zone is None else col.dt.convert_time_zone("UTC")
            return utc.cast(target)
        if text is not None:
            return text.map_batches(_parse_iso, return_dtype=target)
    return None


def _parse_iso(text: pl.Series) -> pl.Series:
    """ISO-8601 strings as UTC instants: naive ones read as UTC, `Z` / `+02:00` offsets converted,
    mixed freely in one column; null where a string is not a timestamp."""
    # pandas' ISO-8601 parser takes every form and mix (measured: as fast as polars' strptime).
    parsed = pd.to_datetime(text.to_pandas(), utc=True, format="ISO8601", errors="coerce")
    # pandas picks the resolution from the strings (seconds for an all-null column); fix it to us.
    naive_utc = pl.Series(text.name, parsed.dt.tz_convert(None).to_numpy().astype("datetime64[us]"))
    return naive_utc.dt.replace_time_zone("UTC")


def _word(dtype: pl.DataType) -> str:
    return "a timestamp" if isinstance(dtype, pl.Datetime) else TYPE_WORDS[dtype]


# -- step 2: the pandera model ---------------------------------------------------------------


def _rule_masks(name: str, df: pl.DataFrame) -> dict[tuple[str, str], pl.Series]:
    """For each row rule of the table's model, by (rule, column): True where a row of `df` breaks it.
    Uses the model's own declarations and Check objects."""
    schema = TABLES[name].model.to_schema()
    lazy = df.lazy()
    masks: dict[tuple[str, str], pl.Series] = {}
    for column, spec in schema.columns.items():
        values = df[column]
        if not spec.nullable:  # pandera counts NaN as null in a float column; so do we
            nan = values.is_nan() if values.dtype.is_float() else False
            masks[rule_name(name, column, "not_nullable"), column] = values.is_null() | nan
        if spec.unique:
            masks[rule_name(name, column, "field_uniqueness"), column] = _duplicated(values)
        for check in spec.checks:
            masks[rule_name(name, column, check), column] = ~check(lazy, column).check_output.collect().to_series()
    if schema.unique:
        masks[rule_name(name, None, "multiple_fields_uniqueness"), WHOLE_ROW] = df.select(schema.unique).is_duplicated()
    for check in schema.checks:
        masks[rule_name(name, None, check), WHOLE_ROW] = ~check(lazy).check_output.collect().to_series()
    return masks


def _duplicated(values: pl.Series) -> pl.Series:
    """True for every copy of a value that occurs more than once: `values.is_duplicated()`, faster."""
    # is_duplicated builds a hash table of the strings (~6 s for 15M ids). Sorting their 64-bit
    # hashes finds the candidates in ~1.5 s; the exact check on those few drops hash collisions.
    hashes = values.hash()
    order = hashes.arg_sort()
    ranked = hashes.gather(order)
    same = (ranked == ranked.shift(1)).fill_null(False) | (ranked == ranked.shift(-1)).fill_null(False)
    candidates = order.filter(same).sort()
    duplicated = pl.repeat(False, len(values), eager=True)
    return duplicated.scatter(candidates.filter(values.gather(candidates).is_duplicated()), True)


def _pandera_violations(name: str, df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """What `Model.validate(df, lazy=True)` finds: (row_nr into df, rule, column) per failing row,
    and the rules that failed for a whole column (no row index, e.g. a dtype): every row breaks them."""
    # pandera holds each failing row of a dataframe check as Python objects, ~2 GB a million, so
    # many failures are reported a chunk at a time. Every copy of a key goes to the same chunk
    # (by its hash), else pandera would not see the copies as duplicates.
    schema = TABLES[name].model.to_schema()
    keys = [column for column, spec in schema.columns.items() if spec.unique]
    chunks = -(-df.height // REPORT_CHUNK)
    if chunks <= 1 or len(keys) > 1 or schema.unique:
        return _pandera_chunk(name, df)
    chunk = (pl.struct(keys).hash() if keys else pl.int_range(pl.len(), dtype=pl.UInt64)) % chunks
    found, whole = [], {}
    for rows in df.select(chunk.alias("chunk")).with_row_index("row_nr").partition_by("chunk", include_key=False):
        per_row, whole_rules = _pandera_chunk(name, df[rows["row_nr"]])
        found.append(_renumber(per_row, rows["row_nr"]))
        whole |= dict.fromkeys(whole_rules)
    return pl.concat(found), list(whole)


def _pandera_chunk(name: str, df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """`_pandera_violations` for one call of `Model.validate`."""
    model = TABLES[name].model
    schema = model.to_schema()
    try:
        model.validate(df, lazy=True)
        return _violations({}), []
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    # Few distinct (column, check) pairs fail, however many rows do: name each pair once.
    kinds = cases.select("schema_context", "column", "check", "check_number").unique()
    rules = []
    for context, column, check, number in kinds.iter_rows():
        if check == "column_in_dataframe":
            raise InputError(f"{name}: missing column {column}")  # _open checks this first; belt and braces
        frame_level = context == "DataFrameSchema"
        checks = schema.checks if frame_level else schema.columns[column].checks
        rules.append(rule_name(name, None if frame_level else column, check if number is None else checks[number]))
    kinds = kinds.with_columns(rule=pl.Series(rules, dtype=pl.String))
    named = cases.join(kinds, on=["schema_context", "column", "check", "check_number"], nulls_equal=True)
    per_row = named.filter(pl.col("index").is_not_null()).select(
        row_nr=pl.col("index").cast(pl.UInt32),
        rule="rule",
        column=pl.when(pl.col("schema_context") == "Column").then("column").otherwise(pl.lit(WHOLE_ROW)),
    )
    whole = named.filter(pl.col("index").is_null())["rule"].unique(maintain_order=True).to_list()
    return per_row, whole


def rule_name(table: str, column: str | None, check: Check | str) -> str:
    """A reject rule as a reader wants it, e.g. `orders.cancel_initiator not in (buyer, seller)`."""
    if isinstance(check, str):
        wording = {"not_nullable": "is null", "field_uniqueness": "duplicated"}
        if column is None:
            return f"{table}: {check}"
        return f"{table}.{column} {wording.get(check, check)}"
    if column is None:
        return f"{table} breaks: {check.name}"
    stats = check.statistics
    wording = {
        "isin": lambda: f"not in ({', '.join(map(str, stats.get('allowed_values', ())))})",
        "greater_than_or_equal_to": lambda: f"< {stats.get('min_value')}",
        "str_matches": lambda: f"does not match {stats.get('pattern')}",
    }
    return f"{table}.{column} " + wording.get(check.name, lambda: f"fails {check.error or check.name}")()


# -- step 3 and the whole table --------------------------------------------------------------


def _load_table(
    name: str,
    path: Path,
    lazy: pl.LazyFrame,
    parents: dict[str, pl.DataFrame],
    rejected_keys: dict[str, pl.Series],
    reject_limit: float,
    stages: Stages,
    actions: dict[str, RuleAction],
    counts: dict[str, dict[str, int]],
) -> tuple[pl.DataFrame, pl.DataFrame, int, str | None]:
    """Table `name`: its valid rows, typed (repairs applied); its reject lines (plus `row_nr`); how
    many rows were read; and, when its rejects are over the limit, the sentence that says so."""
    with stages(f"reading {name}"):
        raw = _collect(name, path, lazy)
    for child, _, parent, _ in FOREIGN_KEYS:
        if child == name and raw.height and counts.get(parent, {}).get("rows", 1) == 0:
            raise InputError(
                f"{parent}: the table is empty while {name} has {raw.height} rows that refer to it "
                f"(an incomplete export?)"
            )
    with stages(f"validating {name}"):
        typed, cast_failures = _cast(name, raw)
        typed, repaired = _repair(name, typed, actions)
        typed, found, too_many = _violations_of(name, raw, typed, cast_failures, parents, rejected_keys, reject_limit)
        lines = pl.concat(
            [
                _reject_lines(name, found, typed, raw).with_columns(action=pl.lit(REJECTED)),
                _reject_lines(name, repaired, typed, raw).with_columns(action=pl.lit(REPAIRED)),
            ]
        ).sort("row_nr", "action", "rule", maintain_order=True)
        rows = raw.height
        del raw
        if found.is_empty():
            return typed, lines, rows, too_many
        keep = ~_flag(found, rows)
        # Copy the valid rows column by column, freeing each original (the raw rows went above)
        # as soon as its copy exists: the peak is one table plus a column, not two tables.
        valid = pl.DataFrame([typed.drop_in_place(column).filter(keep) for column in typed.columns])
    return valid, lines, rows, too_many


def _repair(name: str, typed: pl.DataFrame, actions: dict[str, RuleAction]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`typed` with the rows that break a rule whose action is repair fixed by that rule's stated
    repair; and (row_nr, rule) for each row so repaired."""
    checks = {check.name: check for check in TABLES[name].model.to_schema().checks}
    found = []
    for rule_id, repair in REPAIRS.items():
        if repair.table != name or actions.get(rule_id) != RuleAction.REPAIR:
            continue
        check = checks[repair.check]
        broken = ~check(typed.lazy()).check_output.collect().to_series()
        if not broken.any():
            continue
        typed = typed.with_columns(
            pl.when(pl.lit(broken)).then(fixed).otherwise(pl.col(column)).alias(column)
            for column, fixed in repair.fix().items()
        )
        found.append(pl.DataFrame({"row_nr": broken.arg_true(), "rule": rule_name(name, None, check)}))
    return typed, pl.concat([pl.DataFrame(schema={"row_nr": pl.UInt32, "rule": pl.String}), *found])


def _violations_of(
    name: str,
    raw: pl.DataFrame,
    typed: pl.DataFrame,
    cast_failures: pl.DataFrame,
    parents: dict[str, pl.DataFrame],
    rejected_keys: dict[str, pl.Series],
    reject_limit: float,
) -> tuple[pl.DataFrame, pl.DataFrame, str | None]:
    """Table `name` typed (`typed`: `raw` cast and repaired), its violations (row_nr, rule) of
    steps 1-3, sorted by row, and the sentence saying the rejects are over the limit, if they
    are: then the violations are those of the masks alone (pandera's report is skipped)."""
    # A null left by a failed cast is not news: drop what rules on that column, or on the whole
    # row, make of it (the row is rejected for its type anyway).
    not_news = pl.concat([cast_failures, cast_failures.with_columns(column=pl.lit(WHOLE_ROW))]).select(
        "row_nr", "column"
    )

    def judged(violations: pl.DataFrame) -> pl.DataFrame:
        return violations.join(not_news, on=["row_nr", "column"], how="anti")

    broken = judged(_violations(_rule_masks(name, typed)))
    foreign_masks = {}
    for child, column, parent, pcolumn in FOREIGN_KEYS:
        if child != name or parent not in parents:
            continue
        absent = _absent_from(typed[column], parents[parent][pcolumn])
        # A row whose parent was rejected names that cause, not a missing parent.
        of_rejected = absent & typed[column].is_in(rejected_keys[parent].implode()).fill_null(False)
        foreign_masks[f"{name}.{column} not in {parent}", column] = absent & ~of_rejected
        foreign_masks[f"{name}.{column} refers to a rejected {parent} row", column] = of_rejected
    foreign = _violations(foreign_masks)
    masked = pl.concat([cast_failures, broken, foreign])
    too_many = _over_limit(name, masked, typed, raw, reject_limit)  # before pandera's flood
    if too_many:
        return typed, masked.select("row_nr", "rule").unique().sort("row_nr", "rule"), too_many

    # pandera reports on the rows the masks flagged only (all of them: its word is the one that counts).
    flagged_nr = broken["row_nr"].unique().sort()
    per_row, whole = _pandera_violations(name, typed[flagged_nr])
    everyone = pl.int_range(raw.height, dtype=pl.UInt32, eager=True)
    found = pl.concat(
        [
            cast_failures,
            judged(_renumber(per_row, flagged_nr)),
            *(pl.DataFrame({"row_nr": everyone, "rule": rule, "column": WHOLE_ROW}) for rule in whole),
            foreign,
        ]
    )
    found = found.select("row_nr", "rule").unique().sort("row_nr", "rule")
    return typed, found, _over_limit(name, found, typed, raw, reject_limit)


def _absent_from(values: pl.Series, keys: pl.Series) -> pl.Series:
    """True where a value (not null) is not among `keys`: an anti join, which hashes the keys
    once and is twice as fast as `is_in` on millions of string ids."""
    rows = values.to_frame("value").with_row_index("row_nr").drop_nulls("value")
    missing = rows.join(keys.to_frame("value"), on="value", how="anti")["row_nr"]
    return pl.repeat(False, len(values), eager=True).scatter(missing, True)


def _violations(masks: dict[tuple[str, str], pl.Series]) -> pl.DataFrame:
    """(row_nr, rule, column) for each True of each boolean mask, the masks keyed by (rule, column)."""
    return pl.concat(
        [pl.DataFrame(schema=VIOLATIONS)]
        + [
            pl.DataFrame({"row_nr": mask.arg_true(), "rule": rule, "column": column}, schema=VIOLATIONS)
            for (rule, column), mask in masks.items()
        ]
    )


def _renumber(violations: pl.DataFrame, row_nrs: pl.Series) -> pl.DataFrame:
    """Violations of a row subset renumbered to the rows they came from (`row_nrs[i]` is row i)."""
    return violations.with_columns(row_nr=row_nrs.gather(violations["row_nr"]).cast(pl.UInt32))


def _flag(violations: pl.DataFrame, height: int) -> pl.Series:
    """True for each row with at least one violation."""
    return pl.int_range(height, dtype=pl.UInt32, eager=True).is_in(violations["row_nr"].unique().implode())


def _keys(name: str, typed: pl.DataFrame, raw: pl.DataFrame, row_nrs: pl.Series) -> pl.Series:
    """The key of each row: the table's key columns joined by `|`, "" for a null; the value as
    read when it did not cast, so that a row rejected for its key still shows it."""
    parts = []
    for column in TABLES[name].key:
        value = typed[column].gather(row_nrs)
        if value.dtype == pl.Datetime:
            value = value.dt.to_string(ISO_UTC)
        as_read = raw[column].gather(row_nrs).cast(pl.String, strict=False)
        parts.append(value.fill_null(as_read).fill_null(""))
    return pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator="|")).to_series().alias("key")


def _reject_lines(name: str, found: pl.DataFrame, typed: pl.DataFrame, raw: pl.DataFrame) -> pl.DataFrame:
    """The reject lines of one table: table, key, rule, row (raw row as JSON), row_nr."""
    rows = found["row_nr"].unique(maintain_order=True)
    as_read = raw.select(row=pl.struct(pl.all().gather(rows)).struct.json_encode())
    lines = pl.DataFrame({"row_nr": rows, "key": _keys(name, typed, raw, rows)}).with_columns(as_read)
    return found.join(lines, on="row_nr", how="left", maintain_order="left").select(
        table=pl.lit(name), key="key", rule="rule", row="row", row_nr="row_nr"
    )


def _over_limit(
    name: str, found: pl.DataFrame, typed: pl.DataFrame, raw: pl.DataFrame, reject_limit: float
) -> str | None:
    """The sentence saying the rows with a violation are more than `reject_limit` of the table, if they are."""
    rejected = found["row_nr"].n_unique()
    if raw.height == 0 or rejected / raw.height <= reject_limit:
        return None
    by_rule = found.group_by("rule").len().sort(["len", "rule"], descending=[True, False])
    rule, n = by_rule.row(0)
    examples = found.filter(pl.col("rule") == rule)["row_nr"].sort().head(3)
    keys = ", ".join(_keys(name, typed, raw, examples).to_list())
    return (
        f"{name}: {rejected} of {raw.height} rows rejected ({rejected / raw.height:.2%}), over the limit of "
        f"{reject_limit:.2%}; most common rule: {rule} ({n} row{'s' * (n != 1)}), e.g. keys {keys}"
    )
