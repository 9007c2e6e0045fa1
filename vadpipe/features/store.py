"""The vadpipe feature store: one ``.npy`` of shape (T, C, D) per video plus ``index.jsonl``.

``index.jsonl`` holds one JSON object per video; its keys are
:class:`vadpipe.features.record.IndexRecord`'s (this module reads and writes the
lines as plain dicts, and merges them). Lines are appended as videos finish; a later
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
    with open(path, encoding="utf-8", errors="replace") as f:  # vadpipe writes ASCII: other bytes are damage
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue  # a line torn by a killed run (or corrupted); that video will be redone
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
        raise InputError(f"{path}: not a readable .npy feature file ({exc}); re-extract it") from exc
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


# --- Index parts: one per `vadpipe extract` shard, merged into index.jsonl ---------------------------------
#
# Every extract run appends to its own part, ``index.part-{i}-of-{n}.jsonl`` (``0-of-1`` when not
# sharded), and holds an exclusive ``flock`` on ``.index.part-{i}-of-{n}.lock`` while it runs. A merge
# (under ``.index.lock``) folds ``index.jsonl`` and every part whose writer is gone into one
# ``index.jsonl``, one record per id, sorted by id, written atomically; only then are the merged parts
# deleted. Merging is idempotent, so the last shard to finish, or any later run, can do it; a killed
# writer's lock is released by the kernel, so its part is merged by the next run.

PART_GLOB = "index.part-*-of-*.jsonl"


def index_part_name(shard: int, shards: int) -> str:
    """File name of the index part written by shard ``shard`` of ``shards``."""
    return f"index.part-{shard}-of-{shards}.jsonl"


def _records_of(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return read_index(path.parent, path.name)


def read_index_view(store: str | os.PathLike) -> dict[str, dict]:
    """The latest record per id, from ``index.jsonl`` and every part (finished or still being written)."""
    store = Path(store)
    records = {str(r["id"]): r for r in _records_of(store / INDEX_NAME)}
    for part in sorted(store.glob(PART_GLOB)):
        records.update((str(r["id"]), r) for r in _records_of(part))
    return records


class _HeldLock:
    """An exclusive flock on a lock file, which ``close()`` deletes before releasing (no lock files stay behind)."""

    def __init__(self, file, path: Path):
        self.file, self.path = file, path

    def close(self) -> None:
        if self.file.closed:
            return
        self.path.unlink(missing_ok=True)  # still holding the lock: a waiter on this inode will see it gone
        self.file.close()


def _lock(path: Path, *, blocking: bool):
    """A :class:`_HeldLock` on ``path``, or None if another process holds it.

    The holder deletes the file when it lets go, so a process that opened the file just before
    that locks a deleted inode: it checks that the path still names the inode it locked, and
    tries again on the new file if not.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): runs must not overlap there
        return open(path, "a")  # noqa: SIM115
    while True:
        f = open(path, "a")  # noqa: SIM115
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError:
            f.close()
            return None
        try:
            if os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                return _HeldLock(f, path)
        except FileNotFoundError:
            pass
        f.close()


def lock_index_part(store: str | os.PathLike, shard: int, shards: int, *, wait_s: float = 10.0):
    """Claim the index part of one shard for this process; returns a handle to ``close()`` when done.

    Raises:
        VadpipeError: another live process is writing the same shard into this store.
    """
    import time

    from vadpipe.errors import VadpipeError

    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    path = store / f".{index_part_name(shard, shards)[:-len('.jsonl')]}.lock"
    deadline = time.monotonic() + wait_s
    while (handle := _lock(path, blocking=False)) is None:
        if time.monotonic() > deadline:
            raise VadpipeError(
                f"{store}: another `vadpipe extract` is writing shard {shard}/{shards} here; "
                "wait for it or give a different --out"
            )
        time.sleep(0.2)
    part = store / index_part_name(shard, shards)
    if part.is_file() and part.stat().st_size:
        with open(part, "rb+") as f:  # a kill mid-line left a torn last line: end it, so the next record
            f.seek(-1, os.SEEK_END)  # starts on a line of its own instead of being glued to the torn one
            if f.read(1) != b"\n":
                f.write(b"\n")
    return handle


def merge_index_parts(store: str | os.PathLike) -> list[dict]:
    """Fold every finished part into ``index.jsonl`` (see above); returns the merged records.

    Parts still held by a running writer are left for a later merge.
    """
    from vadpipe.atomic import write_text

    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    guard = _lock(store / ".index.lock", blocking=True)
    held = []
    try:
        records = {str(r["id"]): r for r in _records_of(store / INDEX_NAME)}
        merged = []
        for part in sorted(store.glob(PART_GLOB)):
            handle = _lock(store / f".{part.name[:-len('.jsonl')]}.lock", blocking=False)
            if handle is None:
                continue  # its writer is still running
            held.append(handle)
            records.update((str(r["id"]), r) for r in _records_of(part))
            merged.append(part)
        ordered = [records[k] for k in sorted(records)]
        if merged or not (store / INDEX_NAME).is_file():
            write_text(store / INDEX_NAME, "".join(json.dumps(r, sort_keys=False) + "\n" for r in ordered))
        for part in merged:
            part.unlink(missing_ok=True)
        for stale in store.glob(".index.part-*-of-*.lock"):  # left by an older vadpipe or a writer that is gone
            if (handle := _lock(stale, blocking=False)) is not None:
                held.append(handle)
        return ordered
    finally:
        for handle in held:
            handle.close()
        guard.close()
