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
        params: further parameters the message names (a constraint between settings); the CLI
            writes each as its flag wherever it stands in the message.
    """

    exit_code = 1

    def __init__(self, message: str, *, param: str | None = None, params: tuple[str, ...] = ()):
        super().__init__(message)
        self.param = param
        self.params = tuple(params)


class UsageError(VadpipeError):
    """The command line itself is wrong (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError, ValueError):
    """A setting of a config dataclass is out of its range, or two settings do not fit together.

    A usage error when the setting came from the command line (exit code 2); a ``ValueError``
    too, so a config read from a file reports it as that file's problem.
    """


class InputError(VadpipeError):
    """One input of a batch is bad; the batch goes on without it."""


# errno -> what to do, for the OSErrors a full, read-only or foreign disk gives
_DISK_ADVICE = {
    "ENOSPC": "free some space or choose another output folder",
    "EDQUOT": "free some space (your quota is used up) or choose another output folder",
    "EROFS": "the file system is read-only; choose another output folder",
    "EACCES": "check its permissions or choose another folder",
    "EPERM": "check its permissions or choose another folder",
    "ENAMETOOLONG": "the name is too long for the file system; rename the input or choose a shorter output path",
    "EIO": "the disk reports an error; check it",
}


def is_disk_error(exc: BaseException) -> bool:
    """Whether ``exc`` is an OSError of the environment (a full, read-only or failing disk; a name too long)."""
    import errno

    return isinstance(exc, OSError) and errno.errorcode.get(exc.errno or 0) in _DISK_ADVICE


def disk_error_line(exc: OSError, what: str | None = None) -> str:
    """One line for an OSError of the disk: the file, what failed, and what to do.

    Args:
        what: what was being done (``"cannot write the outputs of a.mp4"``); default: ``cannot use it``.
    """
    import errno

    name = exc.filename if exc.filename is not None else "?"
    code = errno.errorcode.get(exc.errno or 0, "")
    advice = _DISK_ADVICE.get(code, "check the disk and the path")
    what = what or ("cannot be written" if code in ("ENOSPC", "EDQUOT", "EROFS", "ENAMETOOLONG") else "cannot be used")
    return f"{name}: {what} ({exc.strerror or exc}); {advice}"
