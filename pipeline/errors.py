"""Failures a user can act on. The CLI prints each as one line on stderr and exits with its code.

The exit codes follow the BSD ``sysexits.h`` convention, so that a scheduler can tell what to
do from the code alone (docs/operations.md, "Exit codes"):

====  ==============  =====================================================================
code  name            meaning, and what a scheduler should do
====  ==============  =====================================================================
0                     done
64    EX_USAGE        the command line is wrong (unknown option, bad date, --as-of not over
                      yet, an output inside --data): fix the command, do not retry
65    EX_DATAERR      the input data cannot be used (missing table or column, unreadable
                      file, too many rejects, nobody active at --as-of): fix the export
70    EX_SOFTWARE     an internal error (a bug): report it with BUYER_ABUSE_DEBUG=1
75    EX_TEMPFAIL     temporary: a run for the date is in progress, or the review database
                      or the model registry is unreachable: retry later
78    EX_CONFIG       a setting points at something unusable (review database URL, a newer
                      or foreign schema, no champion in the registry): fix the setting
130                   interrupted (Ctrl-C)
====  ==============  =====================================================================
"""

from __future__ import annotations

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_SOFTWARE = 70
EX_TEMPFAIL = 75
EX_CONFIG = 78
EX_INTERRUPTED = 130


class PipelineError(Exception):
    """Base of every expected failure; its message is the whole explanation."""

    exit_code = EX_SOFTWARE


class UsageError(PipelineError):
    """The command asks for something that cannot be done as given (a day not over yet, an
    output path inside the snapshot, a range that ends before it starts)."""

    exit_code = EX_USAGE


class InputError(PipelineError):
    """A snapshot that cannot be used at all: a missing table or column, an unreadable file."""

    exit_code = EX_DATAERR


class RejectLimitExceeded(InputError):
    """Too large a share of a table broke the contract; no run output was written (the rejects
    file was, to show why). `rejects` holds the reject lines found (pipeline.snapshot)."""

    def __init__(self, message: str, rejects: object = None) -> None:
        super().__init__(message)
        self.rejects = rejects


class ConfigError(PipelineError):
    """An option or setting that cannot work (bad date, unknown URL scheme, ...)."""

    exit_code = EX_CONFIG


class ReviewDbError(ConfigError):
    """The review database cannot be used: a bad URL, a newer or foreign schema, a refused write."""


class TemporaryFailure(PipelineError):
    """Something that may work on a later try: a lock held by another run, a database or
    registry that does not answer."""

    exit_code = EX_TEMPFAIL


class ReviewDbUnavailable(ReviewDbError, TemporaryFailure):
    """The review database did not answer (after the retries)."""

    exit_code = EX_TEMPFAIL


class RunLocked(TemporaryFailure):
    """Another run for the same date holds the lock (of the run directory or of the review table)."""


class CaseConflict(TemporaryFailure):
    """Another analyst holds the case, or it changed since it was shown: look again, then decide."""
