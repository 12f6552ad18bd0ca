"""Frames between Spark and polars, so that the pure feature functions run unchanged on Spark.

A Spark step here is a *grouped map*: rows of one or more tables are sent, grouped by a hash
bucket of a key (accounts, entities, rings, regions...), to a Python worker, which turns the
group's Arrow batches into polars frames with exactly the types the local engine gives them,
calls a function of ``features``, and hands the result back as Arrow. Because every group
holds all rows of its keys, the function returns the same rows it returns on the whole table.

* Types: Spark has no unsigned integers and reads strings as Arrow ``string``, polars writes
  ``large_string``; each Spark frame travels with the polars schema of its columns (`Part`),
  and a worker casts what it receives back to it, and what it returns to the Spark types.
* Several tables to one function: a *tagged union*, one row per input row with the table's
  name in ``_tag`` and the row in a struct column named after the table (the other tables'
  struct columns null). Outputs come back the same way, so one function may return several
  tables (``Part`` per name).
* Schemas of outputs are found by calling the function on empty frames of the input schemas,
  on the driver; a worker refuses an output of another shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import polars as pl
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

Schema = dict[str, pl.DataType]
GROUP, TAG = "_group", "_tag"


@dataclass(frozen=True)
class Part:
    """A Spark frame and the polars types of its columns (what the local engine would hold)."""

    frame: DataFrame
    schema: Schema

    def select(self, *columns: str) -> Part:
        return Part(self.frame.select(*columns), {c: self.schema[c] for c in columns})


# -- types -------------------------------------------------------------------------------------

_INTEGERS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)
# polars type -> (the Spark type that carries it, the Arrow type Spark sends and expects for it)
_SCALARS = [
    (pl.String, T.StringType(), pa.string()),
    (pl.Boolean, T.BooleanType(), pa.bool_()),
    (pl.Float64, T.DoubleType(), pa.float64()),
    (pl.Float32, T.FloatType(), pa.float32()),
    *((i, T.LongType(), pa.int64()) for i in _INTEGERS),  # Spark has no unsigned integers: all widen to long
    (pl.Date, T.DateType(), pa.date32()),
]


def _types(dtype: pl.DataType) -> tuple[T.DataType, pa.DataType]:
    """The Spark type carrying a polars type, and the Arrow type of it Spark exchanges with
    Python (instants: microseconds, session time zone UTC)."""
    for scalar, spark, arrow in _SCALARS:
        if dtype == scalar:
            return spark, arrow
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone not in ("UTC", None) or dtype.time_unit != "us":
            raise TypeError(f"no Spark type for {dtype}: instants are Datetime('us', 'UTC')")
        spark = T.TimestampType() if dtype.time_zone else T.TimestampNTZType()
        return spark, pa.timestamp("us", tz=dtype.time_zone)
    if isinstance(dtype, pl.List):
        spark, arrow = _types(dtype.inner)
        return T.ArrayType(spark), pa.list_(arrow)
    if isinstance(dtype, pl.Struct):
        fields = [(f.name, *_types(f.dtype)) for f in dtype.fields]
        return (
            T.StructType([T.StructField(name, spark) for name, spark, _ in fields]),
            pa.struct([pa.field(name, arrow) for name, _, arrow in fields]),
        )
    raise TypeError(f"no Spark type for the polars type {dtype}")


def spark_type(dtype: pl.DataType) -> T.DataType:
    """The Spark type that carries a polars type (integers widen to long)."""
    return _types(dtype)[0]


def arrow_type(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type Spark sends and expects for `spark_type(dtype)` (session time zone UTC)."""
    return _types(dtype)[1]


def spark_schema(schema: Schema) -> T.StructType:
    return T.StructType([T.StructField(name, spark_type(dtype)) for name, dtype in schema.items()])


def arrow_schema(schema: Schema) -> pa.Schema:
    return pa.schema([pa.field(name, arrow_type(dtype)) for name, dtype in schema.items()])


def to_polars(table: pa.Table, schema: Schema) -> pl.DataFrame:
    """An Arrow table from Spark as the polars frame the local engine would hold."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(list(schema)).cast(schema) if schema else frame


def to_arrow(frame: pl.DataFrame, schema: Schema) -> pa.Table:
    """A polars frame as the Arrow table Spark expects for `schema`; refuses another shape."""
    if dict(frame.schema) != schema:
        raise TypeError(f"a Spark step returned {dict(frame.schema)}, not the declared {schema}")
    return frame.to_arrow().cast(arrow_schema(schema))


def empty(schema: Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def collect(part: Part) -> pl.DataFrame:
    """A (small) Spark frame on the driver, with its polars types."""
    return to_polars(part.frame.toArrow(), part.schema)


# -- tagged unions and grouped maps ------------------------------------------------------------


def bucket(keys: list[str], groups: int) -> Column:
    """The hash bucket (0..groups-1) of a row's key; null keys hash like any value."""
    return F.pmod(F.xxhash64(*keys), F.lit(groups))


def tagged(inputs: Mapping[str, tuple[Part, list[str]]], groups: int) -> DataFrame:
    """One Spark frame holding every row of each named input: its group (the bucket of its key
    columns), its name in _tag, and the row as a struct column named after it."""
    structs = {name: spark_type(pl.Struct(part.schema)) for name, (part, _) in inputs.items()}
    frames = []
    for name, (part, keys) in inputs.items():
        columns = [
            F.struct(*part.schema).alias(other) if other == name else F.lit(None).cast(structs[other]).alias(other)
            for other in inputs
        ]
        frames.append(part.frame.select(bucket(keys, groups).alias(GROUP), F.lit(name).alias(TAG), *columns))
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union


def untag(table: pa.Table, schemas: Mapping[str, Schema]) -> dict[str, pl.DataFrame]:
    """The inputs of one group, by name, as polars frames of their schemas."""
    frame = to_polars(table, {})
    return {
        name: frame.filter(pl.col(TAG) == name).select(pl.col(name).struct.unnest()).cast(schema)
        if frame.height
        else empty(schema)
        for name, schema in schemas.items()
    }


def _tagged_output(outputs: Mapping[str, Schema]) -> Schema:
    return {TAG: pl.String, **{name: pl.Struct(schema) for name, schema in outputs.items()}}


def _run_group(
    table: pa.Table, *, step: Callable, inputs: Mapping[str, Schema], outputs: Mapping[str, Schema]
) -> pa.Table:
    """In a worker: one group's rows in, `step`'s tables out (tagged)."""
    result = step(untag(table, inputs))
    parts = []
    for name, schema in outputs.items():
        frame = result[name]
        to_arrow(frame, schema)  # the declared shape, or a clear error
        parts.append(frame.select(pl.lit(name).alias(TAG), pl.struct(pl.all()).alias(name)))
    joined = pl.concat(parts, how="diagonal") if parts else empty(_tagged_output(outputs))
    return to_arrow(joined.select(list(_tagged_output(outputs))), _tagged_output(outputs))


@dataclass(frozen=True)
class Tagged:
    """A grouped map's result: one Spark frame holding every output, and each output's schema."""

    frame: DataFrame
    outputs: dict[str, Schema]

    def __getitem__(self, name: str) -> Part:
        return Part(self.frame.filter(F.col(TAG) == name).select(f"{name}.*"), self.outputs[name])


def grouped_map(
    inputs: Mapping[str, tuple[Part, list[str]]], step: Callable[[dict[str, pl.DataFrame]], dict], groups: int
) -> Tagged:
    """Run `step` (frames by name -> frames by name) on each hash bucket of the inputs' keys.
    `step` must be picklable (a module-level function, or a partial of one) and return the same
    rows on a group as on the whole table for the keys of that group."""
    schemas = {name: part.schema for name, (part, _) in inputs.items()}
    outputs = {name: dict(frame.schema) for name, frame in step({n: empty(s) for n, s in schemas.items()}).items()}
    run = partial(_run_group, step=step, inputs=schemas, outputs=outputs)

    # A plain function without type hints: PySpark 4.3 reads the hints of the function it is
    # given to choose between its table and batch-iterator forms, and fails on a partial.
    def worker(table):
        return run(table)

    result = tagged(inputs, groups).groupBy(GROUP).applyInArrow(worker, spark_schema(_tagged_output(outputs)))
    return Tagged(result, outputs)
