"""Where `vadpipe extract` writes a video's features, in vadpipe's own layout or a public one.

- ``vadpipe``: ``<out>/<rel>.npy``, one ``(T, C, D)`` file per video (docs/architecture.md).
- ``rtfm``: ``<out>/<rel>_i3d.npy`` shaped ``(T, C, D)`` (``(T, 10, 2048)`` with the RTFM
  settings), and ``<out>/rtfm.list`` naming one file per line, abnormal videos first.
- ``xd``: ``<out>/<rel>__0.npy`` ... ``__{C-1}.npy``, each ``(T, D)``, ``__0`` the centre
  crop (``C = 5`` with the XD-Violence settings), and ``<out>/xd.list`` naming every crop
  file (crop files of a video together), violent/abnormal videos first.

``<rel>`` is the video's path relative to its input folder, without extension. The list
files hold absolute paths, as the public lists do (their loaders open each line as is).
Every layout keeps ``index.jsonl`` beside the features: it is what makes a run resumable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vadpipe.atomic import save_npy, write_text
from vadpipe.errors import UsageError
from vadpipe.features.record import DEFAULT_LAYOUT, IndexRecord

LAYOUTS = (DEFAULT_LAYOUT, "rtfm", "xd")
LIST_NAMES = {"rtfm": "rtfm.list", "xd": "xd.list"}
LAYOUT_CROPS = {"rtfm": 10, "xd": 5}  # crops of the public features of that layout (else the backbone's default)
LAYOUT_TAILS = {"xd": "drop"}  # the public XD-Violence features drop the last partial snippet (else pad)


def check_layout(layout: str) -> None:
    """Raises UsageError (``param`` ``layout``) unless ``layout`` is one of :data:`LAYOUTS`."""
    if layout not in LAYOUTS:
        raise UsageError(f"layout {layout!r}: choose one of {', '.join(LAYOUTS)}", param="layout")


def feature_files(layout: str, rel: str, crops: int) -> list[str]:
    """Paths (relative to the output folder, ``/``-separated) of one video's feature files."""
    if layout == "vadpipe":
        return [f"{rel}.npy"]
    if layout == "rtfm":
        return [f"{rel}_i3d.npy"]
    if layout == "xd":
        return [f"{rel}__{c}.npy" for c in range(crops)]
    raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")


def write_features(out: Path, layout: str, rel: str, features: np.ndarray) -> list[str]:
    """Write ``(T, C, D)`` features in ``layout``, each file atomically; returns the relative paths."""
    files = feature_files(layout, rel, features.shape[1])
    if layout == "xd":
        for c, name in enumerate(files):
            save_npy(out / name, np.ascontiguousarray(features[:, c]))  # (T, D)
    else:
        save_npy(out / files[0], features)  # (T, C, D)
    return files


def outputs_complete(out: Path, record: IndexRecord) -> bool:
    """Whether every file the record names exists with the shape and dtype it should have."""
    t, c, d, layout = record.snippets, record.crops, record.dim, record.layout
    files = record.feature_files
    if None in (t, c, d, record.spec) or files != feature_files(layout, _rel_of(layout, files[0]), c):
        return False
    shape = (t, d) if layout == "xd" else (t, c, d)
    for name in files:
        try:
            arr = np.load(out / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return False
        if arr.shape != shape or arr.dtype != np.dtype(record.spec.dtype):
            return False
    return True


def _rel_of(layout: str, first_file: str) -> str:
    suffix = {"vadpipe": ".npy", "rtfm": "_i3d.npy", "xd": "__0.npy"}[layout]
    return first_file[: -len(suffix)] if first_file.endswith(suffix) else first_file


def write_list(out: Path, layout: str, records: list[IndexRecord]) -> Path | None:
    """Write the public list file of ``layout`` from the index records (``ok`` ones, this layout).

    Order: label 1 (abnormal) first, then 0, then unknown; by id within each group.
    Returns the list's path, or None for the vadpipe layout.
    """
    if layout not in LIST_NAMES:
        return None
    ok = [r for r in records if r.ok and r.layout == layout]
    rank = {1: 0, 0: 1, None: 2}
    ok.sort(key=lambda r: (rank.get(r.label, 2), r.id))
    root = out.resolve()
    lines = [str(root / name) for r in ok for name in r.feature_files]
    path = out / LIST_NAMES[layout]
    write_text(path, "".join(line + "\n" for line in lines))
    return path
