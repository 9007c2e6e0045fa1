"""Valid ranges of numeric settings, declared once: on the config dataclass field they bound.

A field declares its range with :func:`ranged`; the dataclass checks every ranged field when it is
built (:func:`check_ranges`), and the CLI option of the same setting reads the range back
(:func:`range_of`) to refuse a bad value while parsing and to show it in ``--help``
(``FLOAT>0``, ``0<=FLOAT<1``, ``1|5|10``). NaN and infinities are never in range.
Pure Python: importing this module imports no torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from vadpipe.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """A finite ``kind`` (int or float) within [min, max] (open ends when asked), or one of ``choices``."""

    kind: type = float
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple = ()

    def text(self) -> str:
        """The range as a metavar: ``FLOAT>0``, ``1<=INT<=10``, ``0<=FLOAT<1`` or ``1|5|10``."""
        if self.choices:
            return "|".join(map(str, self.choices))
        name = "INT" if self.kind is int else "FLOAT"
        low = None if self.min is None else f"{_num(self.min)}{'<' if self.min_open else '<='}"
        high = None if self.max is None else f"{'<' if self.max_open else '<='}{_num(self.max)}"
        if low and high:
            return f"{low}{name}{high}"
        if low:
            return f"{name}{'>' if self.min_open else '>='}{_num(self.min)}"
        return f"{name}{high}" if high else name

    def problem(self, value) -> str | None:
        """Why ``value`` is refused (``must be FLOAT>0``), or None when it is in range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be {self.text()}, not {type(value).__name__}"
        if self.kind is int and not float(value).is_integer():
            return f"must be a whole number ({self.text()})"
        if not math.isfinite(value):
            return f"must be a finite number ({self.text()})"
        if self.choices:
            return None if value in self.choices else f"choose one of {', '.join(map(str, self.choices))}"
        below = self.min is not None and (value < self.min or (self.min_open and value == self.min))
        above = self.max is not None and (value > self.max or (self.max_open and value == self.max))
        return f"must be {self.text()}" if below or above else None

    def parse(self, text: str):
        """A command-line value as a checked number.

        Raises:
            ValueError: not a number, or out of range (the message says which range).
        """
        text = str(text).strip()
        try:
            value = self.kind(text)
        except ValueError:
            what = "a whole number" if self.kind is int else "a number"
            raise ValueError(f"{text or repr(text)} is not {what} ({self.text()})") from None
        problem = self.problem(value)
        if problem:
            raise ValueError(f"{text} {problem}" if problem.startswith("must") else f"{text}: {problem}")
        return value


def _num(x: float) -> str:
    """``0``, ``1``, ``0.5``, ``65536``: bounds as people write them."""
    return str(int(x)) if float(x).is_integer() else repr(x)


def ranged(default, *, kind: type = float, **bounds) -> dataclasses.Field:
    """A dataclass field with its valid range: ``lr: float = ranged(5e-4, min=0, min_open=True)``
    (``dataclasses.MISSING`` as the default: a required field)."""
    return dataclasses.field(default=default, metadata={"range": Range(kind, **bounds)})


def range_of(cls, name: str) -> Range:
    """The range the dataclass ``cls`` declares for its field ``name``."""
    for f in dataclasses.fields(cls):
        if f.name == name and "range" in f.metadata:
            return f.metadata["range"]
    raise KeyError(f"{cls.__name__}.{name} declares no range")


def check_ranges(obj) -> None:
    """Check every ranged field of a dataclass instance (None is left to the field's meaning).

    Raises:
        ConfigError: naming the first field out of range (``params`` holds its name).
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if "range" in f.metadata and value is not None:
            problem = f.metadata["range"].problem(value)
            if problem:
                raise ConfigError(f"{f.name} {value} {problem}" if problem.startswith("must")
                                  else f"{f.name} {value}: {problem}", param=f.name)
