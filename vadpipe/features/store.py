"""The vadpipe feature store: one ``.npy`` of shape (T, C, D) per video plus ``index.jsonl``.

``index.jsonl`` holds one JSON object per video (DESIGN.md): ``video``, ``id``,
``features`` (path relative to the store), ``frames``, ``fps``, ``snippets``,
``crops``, ``dim``, ``backbone``, ``tail``, ``status`` (``ok`` / ``failed`` with
``error``) and ``label`` when known. Lines are appended as videos finish; a later
line for the same ``id`` supersedes an earlier one, and a torn last line (a
killed run) is ignored, so the index never lies about a finished video.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from vadpipe.errors import InputError

INDEX_NAME = "index.jsonl"


def read_index(store: str | os.PathLike, name: str = INDEX_NAME) -> list[dict]:
    """Records of a store's index, last record per ``id`` winning, in first-seen order.

    Raises:
        InputError: the index file does not exist.
    """
    path = Path(store) / name
    if not path.is_file():
        raise InputError(f"{path}: no feature index here; run `vadpipe extract ... --out {store}` first")
    records: dict[str, dict] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a killed run; that video will be redone
            if isinstance(rec, dict) and "id" in rec:
                records[str(rec["id"])] = rec
    return list(records.values())


def append_index(store: str | os.PathLike, record: dict, name: str = INDEX_NAME) -> None:
    """Append one record, flushed to disk before returning (so a kill loses at most this line)."""
    path = Path(store) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def open_features(path: str | os.PathLike, *, mmap: bool = True) -> np.ndarray:
    """Memory-map a feature file and check that it holds finite floats.

    Returns:
        The array as stored: (T, C, D) for vadpipe stores, (T, D) or (T, C, D) for public layouts.

    Raises:
        InputError: missing, unreadable, empty, non-float, or containing NaN/Inf.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: feature file not found; re-extract it or fix the list that names it")
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy feature file ({exc}); re-extract it") from None
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[-1] == 0:
        raise InputError(
            f"{path}: features have shape {arr.shape}; expected (T, D) or (T, crops, D) with T >= 1; re-extract it"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(f"{path}: features are {arr.dtype}, expected float32/float16; re-extract it")
    return arr


def check_finite(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Raise InputError if ``arr`` holds NaN or Inf (checked in chunks, mmap-friendly)."""
    step = max(1, 1_000_000 // max(1, int(np.prod(arr.shape[1:]))))
    for start in range(0, arr.shape[0], step):
        if not np.isfinite(arr[start : start + step]).all():
            raise InputError(f"{path}: features contain NaN or Inf; re-extract this video")
