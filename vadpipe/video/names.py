"""File names: which extensions are videos and list files, and a video's name without its extension.

One home for these, so that a folder search, a labels CSV and an annotation file agree on
what ``x.mkv`` is called.
"""

from __future__ import annotations

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")
LIST_EXTENSIONS = (".txt", ".list")
FEATURE_EXTENSION = ".npy"


def strip_extension(name: str) -> str:
    """``name`` without a video or ``.npy`` extension (any case); other names as they are."""
    lower = name.lower()
    for ext in (*VIDEO_EXTENSIONS, FEATURE_EXTENSION):
        if lower.endswith(ext):
            return name[: -len(ext)]
    return name
