"""What a report may read from outside its scores folder: only what the user named.

A scores folder is a thing people send each other, so the paths inside its ``<stem>.json`` are a
stranger's words: ``"video": "~/key.asc"`` or ``"/any/holiday.mp4"`` must not put the reader's own
files on the page, and ``"model": {"run": DIR}`` must not show another folder's ``config.json``.
A report therefore plays a video only when the file lies inside the scores folder or under a
folder (or is a file) the user named (``vadpipe report --videos DIR``; ``score --report`` names
the inputs it scored), and only when it is a video file: a known video extension and a container
FFmpeg probes as a video format (never a text demuxer such as ``tty``). It shows a run's settings
only for a run inside the folder or one the user named (``--model RUN``). Links inside the folder
that lead out of it are not followed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from vadpipe.errors import InputError
from vadpipe.video.names import VIDEO_EXTENSIONS

# PyAV's names of the containers a video file is probed as; a report publishes nothing else.
VIDEO_CONTAINERS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "mpegts",
                              "mpeg", "asf", "flv"})


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every link resolved, is ``root`` or lies under it."""
    return _real(path).is_relative_to(_real(root))


class Located(NamedTuple):
    """Where a page's video is: ``path``, or None and ``why`` (``outside``: found, but not where the user allowed)."""

    path: Path | None
    why: str = ""
    outside: bool = False


@dataclass
class Trusted:
    """The scores folder and what the user named: the only places a report reads from.

    Args:
        root: the scores folder.
        videos: folders (everything under them) or files the user asked to be played.
        runs: run folders whose settings the pages may show.
    """

    root: Path
    videos: list[Path] = field(default_factory=list)
    runs: list[Path] = field(default_factory=list)

    @classmethod
    def of(cls, root: Path, videos: Iterable[Path] = (), runs: Iterable[Path] = ()) -> Trusted:
        return cls(Path(root), [Path(v) for v in videos], [Path(r) for r in runs])

    def allows_video(self, path: Path) -> bool:
        real = _real(path)
        return any(real.is_relative_to(_real(place)) for place in (self.root, *self.videos))

    def locate_video(self, recorded: str, rel_dir: str) -> Located:
        """The video file a page may play for the path a ``<stem>.json`` records, or why there is none.

        Looked for at the recorded path, then under each ``--videos`` folder by its name (in the
        scores folder's sub-folder first, where ``score`` mirrored the input folders).
        """
        recorded_path = Path(recorded)
        name = recorded_path.name
        candidates = [recorded_path]
        if name not in ("", ".", ".."):
            for folder in (v for v in self.videos if v.is_dir()):
                candidates += [folder / rel_dir / name, folder / name]
        outside = False
        for candidate in candidates:
            if candidate.is_file():
                if self.allows_video(candidate):
                    return Located(candidate)
                outside = True
        if outside:
            return Located(None, f"{recorded} is outside the scores folder and every --videos folder", outside=True)
        return Located(None, f"the scored video is not at {recorded} any more")

    def allows_run(self, run: str) -> bool:
        path = Path(run)
        return path.is_dir() and (inside(path, self.root) or any(_real(path) == _real(r) for r in self.runs))


def check_video_file(path: Path) -> None:
    """InputError unless ``path`` is a video file: a video extension, and a video container with a video stream."""
    import av

    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise InputError(f"{path}: not a video file name ({', '.join(VIDEO_EXTENSIONS)}); not published")
    try:
        with av.open(str(path)) as container:
            names = set(container.format.name.split(","))
            has_video = bool(container.streams.video)
    except (OSError, av.FFmpegError) as exc:
        raise InputError(f"{path}: cannot be opened as a video ({exc}); not published") from None
    if not names & VIDEO_CONTAINERS:
        raise InputError(f"{path}: container {container.format.name} is not a video format; not published")
    if not has_video:
        raise InputError(f"{path}: no video stream; not published")
