"""Errors a user can act on.

Anything raised as a :class:`VadpipeError` is printed by the CLI as one line,
without a traceback. Messages should name the file and say what to do.
"""

from __future__ import annotations


class VadpipeError(Exception):
    """A problem with an input or the environment, printed as one line (exit code 1)."""

    exit_code = 1


class UsageError(VadpipeError):
    """The command line itself is wrong (exit code 2)."""

    exit_code = 2


class InputError(VadpipeError):
    """One input of a batch is bad; the batch goes on without it."""
