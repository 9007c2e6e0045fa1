"""Errors a user can act on.

Anything raised as a :class:`VadpipeError` is printed by the CLI as one line,
without a traceback (``VADPIPE_DEBUG=1`` shows the chained traceback behind it).
Messages should name the file and say what to do. A library error about one
setting names the parameter (``param``); the CLI turns it into its flag.
"""

from __future__ import annotations


class VadpipeError(Exception):
    """A problem with an input or the environment, printed as one line (exit code 1).

    Args:
        message: the line; when ``param`` is given it starts with the parameter's name.
        param: the library parameter at fault (e.g. ``"resample_fps"``), or None.
    """

    exit_code = 1

    def __init__(self, message: str, *, param: str | None = None):
        super().__init__(message)
        self.param = param


class UsageError(VadpipeError):
    """The command line itself is wrong (exit code 2)."""

    exit_code = 2


class InputError(VadpipeError):
    """One input of a batch is bad; the batch goes on without it."""
