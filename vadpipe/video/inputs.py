"""Turning command-line INPUTs (files, folders, list files) into a sorted list of videos to extract.

- a folder: every file below it whose extension is in ``VIDEO_EXTENSIONS`` (any case),
  hidden files and folders left out; its output path mirrors the path below the folder
  (``clips/a/b.mp4`` -> ``a/b``);
- a ``.txt`` / ``.list`` file: one video path per line (``#`` comments and blank lines
  skipped; relative paths are relative to the list's folder and mirrored as written);
- any other file: a video, whatever its extension (FFmpeg decides); output ``<stem>``.

A video's ``id`` is its file name without extension (what the public annotation files
use); when two videos share a name, both get their relative path instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from vadpipe.errors import InputError, UsageError
from vadpipe.textfile import text_lines
from vadpipe.video.labels import folder_label
from vadpipe.video.names import LIST_EXTENSIONS, VIDEO_EXTENSIONS


@dataclass
class VideoJob:
    """One video to extract."""

    video: Path  # as found (the path given, or below a given folder)
    rel: str  # output path below --out, without extension, "/"-separated
    id: str
    folder_label: int | None = None  # from a parent folder named normal / abnormal
    problem: str | None = None  # a reason it cannot be extracted, found before decoding
    missing: bool = False  # an INPUT given that does not exist: reported and failed, never written into an index
    source: dict | None = None  # its identity (vadpipe.video.source), taken when the run plans its work


def _safe_rel(path: PurePosixPath) -> PurePosixPath | None:
    return None if path.is_absolute() or ".." in path.parts else path


def _from_list(list_file: Path) -> list[tuple[Path, PurePosixPath, list[str]]]:
    found = []
    for raw in text_lines(list_file, "a list of videos (one path per line)"):  # any encoding; a BOM dropped
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        given = Path(line).expanduser()
        path = given if given.is_absolute() else list_file.parent / given
        rel = _safe_rel(PurePosixPath(given.as_posix())) or PurePosixPath(given.name)
        found.append((path, rel.with_suffix(""), [*rel.parent.parts]))
    return found


def collect_videos(inputs: list[str | Path]) -> list[VideoJob]:
    """All videos named by ``inputs``, sorted by output path (the order shards split).

    An INPUT that does not exist becomes a ``missing`` job with a ``problem``, after the others:
    the batch goes on without it and the command exits 1 at the end.

    Raises:
        UsageError: no video found at all and no INPUT missing (nothing to do, nothing failed).
    """
    found: list[tuple[Path, PurePosixPath, list[str]]] = []  # (video, rel without suffix, label folders)
    missing: list[VideoJob] = []
    for given in inputs:
        source = Path(given).expanduser()
        if source.is_dir():
            for path in sorted(source.rglob("*")):
                rel = PurePosixPath(path.relative_to(source).as_posix())
                if path.suffix.lower() not in VIDEO_EXTENSIONS or any(p.startswith(".") for p in rel.parts) \
                        or not path.is_file():
                    continue  # hidden files (macOS ._ forks, partial downloads) are not videos
                found.append((path, rel.with_suffix(""), [source.resolve().name, *rel.parent.parts]))
        elif source.is_file() and source.suffix.lower() in LIST_EXTENSIONS:
            try:
                found.extend(_from_list(source))
            except InputError as exc:  # a video or other binary file named .txt: this input fails, the rest go on
                missing.append(VideoJob(video=source, rel=source.stem, id=str(source), missing=True, problem=str(exc)))
        elif source.is_file():
            found.append((source, PurePosixPath(source.stem), [source.parent.resolve().name]))
        else:
            missing.append(VideoJob(video=source, rel=source.stem, id=str(source), missing=True,
                                    problem=f"{source}: no such file or folder; check the path"))
    if not found and missing:
        return missing
    if not found:
        raise UsageError(
            f"no videos found in {', '.join(map(str, inputs))} (looked for {' '.join(VIDEO_EXTENSIONS)}, "
            "or .txt/.list files naming videos)"
        )
    jobs: list[VideoJob] = []
    seen: dict[Path, str] = {}
    owner: dict[str, Path] = {}
    for path, rel, folders in sorted(found, key=lambda f: (str(f[1]), str(f[0]))):
        key = path.resolve()
        if key in seen:
            continue  # the same file named twice
        seen[key] = str(rel)
        job = VideoJob(video=path, rel=str(rel), id=rel.name, folder_label=folder_label(folders))
        if str(rel) in owner:
            job.id = str(path)  # keeps its failed record apart from the owner's
            job.problem = (
                f"{path}: its output path {rel} is already taken by {owner[str(rel)]}; "
                "rename one of them or extract them into different --out folders"
            )
        else:
            owner[str(rel)] = path
        jobs.append(job)
    names = Counter(j.id for j in jobs if j.problem is None)
    for job in jobs:
        if job.problem is None and names[job.id] > 1:
            job.id = job.rel
    return jobs + missing
