"""Failures a user can act on. The CLI prints each as one line on stderr and exits non-zero."""


class PipelineError(Exception):
    """Base of every expected failure; its message is the whole explanation."""

    exit_code = 1


class InputError(PipelineError):
    """A snapshot that cannot be used at all: a missing table or column, an unreadable file."""


class RejectLimitExceeded(PipelineError):
    """Too large a share of a table broke the contract; nothing was written."""


class ConfigError(PipelineError):
    """An option or setting that cannot work (bad date, unknown URL scheme, ...)."""


class ReviewDbError(PipelineError):
    """The review database cannot be used: unreachable, a bad URL, a newer schema, a refused write."""
