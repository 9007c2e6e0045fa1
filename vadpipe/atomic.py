"""Atomic writes: a killed run never leaves a half-written file that a later run would trust."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def _process_umask() -> int:
    """The umask, read without changing it (os.umask sets it, which is not thread-safe)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


_FILE_MODE = 0o666 & ~_process_umask()  # what open() would have given the file


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds.

    ``suffix`` keeps an extension on the temp file for writers that insist on one
    (``np.save`` appends ``.npy``, PyAV picks the container from it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix += ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name, suffix), suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _FILE_MODE)  # mkstemp makes 0600 files; outputs get the usual mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


NAME_MAX = 255  # bytes of one file name on the file systems vadpipe writes to (ext4, xfs, btrfs, tmpfs, APFS)
_RANDOM = 8  # the characters mkstemp adds


def _temp_prefix(name: str, suffix: str) -> str:
    """``.<name>.``, the name shortened so that the temp file's name fits where ``name`` itself does."""
    room = NAME_MAX - 2 - _RANDOM - len(os.fsencode(suffix))
    while len(os.fsencode(name)) > room and name:
        name = name[:-1]
    return f".{name}."


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """UTF-8; a file name's bytes that are not UTF-8 (``surrogateescape``, as Python reads names) are written as
    those bytes, any other lone surrogate as ``?``."""
    try:
        data = text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        data = text.encode("utf-8", errors="replace")
    write_bytes(path, data)


def strict_json(obj, **kwargs) -> str:
    """``json.dumps`` that every parser reads: a float that is not finite (NaN, Inf) becomes null (Python
    would write ``NaN``, which is not JSON)."""
    return json.dumps(_finite(obj), allow_nan=False, **kwargs)


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(value) for value in obj]
    return obj


def write_json(path: str | os.PathLike, obj) -> None:
    """``obj`` as strict JSON (:func:`strict_json`), indented, atomically."""
    write_text(path, strict_json(obj, indent=2, sort_keys=False) + "\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        import numpy as np

        np.save(f, array)
