"""The identity of a source video, recorded with its features so that resume never reuses stale ones.

An output path alone does not say which video its features came from: ``A/clip.mp4`` and
``B/clip.mp4`` both map to ``clip.npy``, and a file replaced in place keeps its name. So every
index record carries ``source``: the resolved path, the size, the modification time (ns) and a
fingerprint (SHA-256 of the size and of the first and last MiB; cheap on long videos, and with the
size and mtime it catches a file rewritten in place). Features are reused only when all four match.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

FINGERPRINT_BYTES = 1 << 20  # read from each end of the file


def _fingerprint(path: Path, size: int) -> str:
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        digest.update(f.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            f.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
            digest.update(f.read(FINGERPRINT_BYTES))
    return "sha256-ends:" + digest.hexdigest()[:32]


def source_identity(path: str | os.PathLike) -> dict | None:
    """``{"path", "size", "mtime_ns", "fingerprint"}`` of a video file, or None if it cannot be read."""
    path = Path(path)
    try:
        resolved = path.resolve()
        st = resolved.stat()
        return {"path": str(resolved), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                "fingerprint": _fingerprint(resolved, st.st_size)}
    except OSError:
        return None


def source_change(recorded: dict | None, current: dict | None) -> str | None:
    """Why features recorded for ``recorded`` do not belong to ``current`` (None: same source).

    A record without a source (written before sources were recorded) never matches.
    """
    if current is None:
        return "the video cannot be read"
    if not recorded:
        return "its features record no source identity (an older vadpipe)"
    if recorded.get("path") != current["path"]:
        return f"they were made from {recorded.get('path')}"
    if recorded.get("size") != current["size"] or recorded.get("fingerprint") != current["fingerprint"]:
        return "the file's content changed"
    if recorded.get("mtime_ns") != current["mtime_ns"]:
        return "the file was modified"
    return None
