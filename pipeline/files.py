"""Writing files so that a reader never sees half of one, and strict JSON."""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import shutil
from pathlib import Path

import polars as pl


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write `frame` to `path` through a temporary file renamed into place when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    frame.write_parquet(partial)
    partial.replace(path)


def strict(value: object) -> object:
    """`value` with every float that JSON cannot hold (NaN, infinities) made None (null), in
    nested dicts, lists and tuples; numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(value: object, indent: int | None = 2) -> str:
    """Strict JSON (RFC 8259: no NaN or Infinity, which strict parsers refuse) of `value`; see `strict`."""
    return json.dumps(strict(value), indent=indent, allow_nan=False, default=str)


def write_json_atomic(value: object, path: Path, mode: int = 0o666) -> None:
    """Write `value` as strict JSON to `path` through a temporary file renamed into place; a new
    file gets permissions `mode` (less the umask) from the start, so a secret is never readable."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as out:
        out.write(json_text(value) + "\n")
    partial.replace(path)


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_libc = ctypes.CDLL(None, use_errno=True)


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where the
    system or the filesystem cannot."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(a), None, str(b))


def replace_directory(new: Path, final: Path, old: Path) -> None:
    """Put directory `new` at `final`, replacing what is there.

    Where directories can be swapped atomically (`exchange`), `final` holds the old directory
    until the instant it holds the new one, so a kill at any point leaves one of them in place;
    the old one, left at `new`'s path, is removed afterwards. Elsewhere the old directory is
    first renamed to `old` and then the new one into place: a kill between the two renames
    leaves only `old`, which `restore_directory` moves back."""
    if not final.exists():
        new.rename(final)
    elif exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)
    else:
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        new.rename(final)
        shutil.rmtree(old, ignore_errors=True)


def restore_directory(final: Path, old: Path) -> bool:
    """Move back the directory a killed `replace_directory` left at `old` when `final` is missing."""
    if old.is_dir() and not final.exists():
        old.rename(final)
        return True
    return False
