"""Range and path checks for options, as ``typer.Option(..., **number_of(TrainConfig, "lr"))``.

A value out of range, NaN, infinite or not a number at all is refused by the option parser as a
usage error (exit 2) before the command starts, so no option value ever reaches a library as a
traceback; the range shows in ``--help`` as the option's metavar. The range of a setting that a
config dataclass holds is the one the dataclass declares (:mod:`vadpipe.ranges`); :func:`number`
is for options that no dataclass holds. Pure Python: importing this module imports no torch.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vadpipe.ranges import Range, range_of


class OptionValueError(typer.BadParameter):
    """A value that one of these parsers refused; the message starts with the value, so the CLI
    prints it after the option's flag: ``--lr -1 must be FLOAT>0``."""


def _option(rng: Range) -> dict:
    def parse(value):
        if isinstance(value, rng.kind) and not isinstance(value, bool):  # a default passed through
            return value
        try:
            return rng.parse(value)
        except ValueError as exc:
            raise OptionValueError(str(exc)) from None

    parse.range = rng  # what the option walk in the tests reads
    return {"parser": parse, "metavar": rng.text()}


def number(kind: type = float, **bounds) -> dict:
    """``typer.Option`` keywords for a finite ``kind`` within the bounds of :class:`~vadpipe.ranges.Range`."""
    return _option(Range(kind, **bounds))


def number_of(cls, field: str) -> dict:
    """``typer.Option`` keywords for the setting ``field`` of the config dataclass ``cls``, in its range."""
    return _option(range_of(cls, field))


def _path(value) -> Path:
    if isinstance(value, Path):
        return value
    if not str(value).strip():
        raise OptionValueError("'': an empty path; give a file or folder")
    return Path(value)


def path(metavar: str = "PATH") -> dict:
    """``typer.Option`` / ``typer.Argument`` keywords for a path that is never the empty string."""
    return {"parser": _path, "metavar": metavar}


PATH = path()  # ``typer.Option(..., **PATH)``
