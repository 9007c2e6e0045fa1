"""Build the HTML report of a scores folder from the per-video outputs `vadpipe score` wrote.

Finds every scored video under SCORES_DIR by the score outputs' table
(:data:`vadpipe.infer.outputs.SCORE_OUTPUTS`: its ``<stem>.scores.csv`` with its ``<stem>.json``) and
writes, beside them, ``<stem>.report.html`` (the video's page, linking every score output of the video)
and ``<stem>.play.mp4|webm`` (what it plays), and ``SCORES_DIR/report.html`` listing them all. The run
that scored them is read through the run loader (:func:`vadpipe.model.checkpoint.read_run_config`).
Nothing else is needed: ``score --report`` calls :func:`build_report` at the end of its run, and
``vadpipe report SCORES_DIR`` rebuilds it any time.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vadpipe.atomic import write_json, write_text
from vadpipe.errors import InputError, VadpipeError
from vadpipe.infer.outputs import CURVE_OUTPUT, RECORD_OUTPUT, find_scored, outputs_beside, score_output
from vadpipe.report.media import Media, earlier_copy, prepare_media
from vadpipe.report.pages import PAGE_SUFFIX, index_page, video_page
from vadpipe.report.trust import Trusted, check_video_file, inside

if TYPE_CHECKING:
    from vadpipe.model.checkpoint import RunConfig

__all__ = ["FAILED_NAME", "INDEX_NAME", "Report", "ScoredVideo", "build_report", "find_scored", "read_scored_video"]

INDEX_NAME = "report.html"
FAILED_NAME = ".report-failed.json"  # the failed inputs of the last `score --report`, for rebuilds


@dataclass
class ScoredVideo:
    """One video's score outputs, read back."""

    key: str  # path of <stem> relative to the scores folder (posix)
    stem: str
    folder: Path
    rel_dir: str
    info: dict  # <stem>.json
    curve: np.ndarray  # (N,) per-frame scores
    smoothed: np.ndarray | None = None  # (N,) when scored with --smooth
    truth: np.ndarray | None = None  # (N,) 0/1 ground-truth frames when scored with --gt naming this video
    files: dict[str, Path] = field(default_factory=dict)  # score output name -> its file beside, in table order


@dataclass
class Report:
    """What :func:`build_report` wrote."""

    index: Path
    pages: list[str] = field(default_factory=list)
    media: dict[str, str] = field(default_factory=dict)  # key -> how its video got into the folder
    failed: list[str] = field(default_factory=list)  # failed inputs (scoring) and unreadable outputs
    unreadable: list[str] = field(default_factory=list)  # the per-video outputs this build could not read
    bytes: int = 0  # size of everything the report added (pages, transcodes; hard links not counted)


def read_scored_video(csv_path: Path, root: Path) -> ScoredVideo:
    """The outputs of one video, from its curve file; InputError naming the file when one is missing or unreadable.

    A file that is a link to somewhere outside ``root`` is not read (nor is a score output linked to from the page).
    """
    stem = score_output(CURVE_OUTPUT).stem_of(csv_path)
    json_path = score_output(RECORD_OUTPUT).path(csv_path.parent, stem)
    for path in (csv_path, json_path):
        if path.exists() and not inside(path, root):
            raise InputError(f"{path}: a link to a file outside {root}; not read (remove the link)")
    try:
        info = json.loads(json_path.read_text(encoding="utf-8"))
        _check_record(info)
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{json_path}: not a readable `vadpipe score` output ({exc}); score the video again") from None
    try:
        with open(csv_path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
            table = np.loadtxt(f, delimiter=",", ndmin=2, dtype=np.float64)  # (N, 3 or 4)
        if header[:3] != ["frame", "time_s", "score"] or table.shape[0] != int(info["frames"]):
            raise ValueError(f"expected {info['frames']} rows of frame,time_s,score")
        if not np.isfinite(table).all():
            raise ValueError("holds values that are not numbers")
    except (OSError, ValueError) as exc:
        raise InputError(f"{csv_path}: not a readable `vadpipe score` curve ({exc}); score the video again") from None
    smoothed = table[:, 3] if "smoothed" in header and table.shape[1] > 3 else None
    rel = csv_path.parent.relative_to(root).as_posix()
    return ScoredVideo(key=f"{rel}/{stem}" if rel != "." else stem, stem=stem, folder=csv_path.parent,
                       rel_dir=rel, info=info, curve=table[:, 2], smoothed=smoothed,
                       truth=_truth_frames(info, table.shape[0]),
                       files={name: path for name, path in outputs_beside(csv_path.parent, stem).items()
                              if inside(path, root)})


def _number(value, *, positive: bool = False, whole: bool = False) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and (not positive or value > 0) and (not whole or float(value).is_integer())


def _check_record(info) -> None:
    """Raise ValueError naming the first key of a ``<stem>.json`` that is missing or not of its type (a hand-edited
    or corrupted file): the page is built from these values."""
    if not isinstance(info, dict):
        raise ValueError(f"an object is expected, not {type(info).__name__}")
    checks = {"frames": _number(info.get("frames"), positive=True, whole=True),
              "fps": _number(info.get("fps"), positive=True), "threshold": _number(info.get("threshold")),
              "max_score": _number(info.get("max_score")), "duration_s": _number(info.get("duration_s")),
              "intervals": isinstance(info.get("intervals"), list) and all(
                  isinstance(iv, dict) and all(_number(iv.get(k)) for k in ("start_s", "end_s", "peak_score",
                                                                             "mean_score"))
                  for iv in info["intervals"])}
    for key, fits in checks.items():
        if not fits:
            raise ValueError(f"'{key}' is missing or not of its type" if key in info else f"no '{key}'")
    for key, kind in (("video", str), ("threshold_source", str), ("metadata", dict), ("model", dict),
                      ("interval_options", dict), ("ground_truth", dict)):
        if info.get(key) is not None and not isinstance(info[key], kind):
            raise ValueError(f"'{key}' is not {'a string' if kind is str else 'an object'}")
    if info.get("model") and not isinstance(info["model"].get("run") or "", str):
        raise ValueError("'model.run' is not a string")
    truth = info.get("ground_truth") or {}
    if not isinstance(truth.get("intervals") or [], list) or not all(
            isinstance(iv, dict) and all(_number(iv.get(k), whole=True) for k in ("start_frame", "end_frame"))
            and all(_number(iv.get(k)) for k in ("start_s", "end_s")) for iv in truth.get("intervals") or []):
        raise ValueError("'ground_truth.intervals' is not a list of frame and time spans")


def _truth_frames(info: dict, n_frames: int) -> np.ndarray | None:
    """(N,) 0/1 frames from the ``ground_truth`` intervals ``score --gt`` recorded, or None."""
    recorded = info.get("ground_truth")
    if not isinstance(recorded, dict):
        return None
    truth = np.zeros(n_frames, dtype=np.uint8)
    for iv in recorded.get("intervals") or []:
        truth[max(0, int(iv["start_frame"])) : min(n_frames, int(iv["end_frame"]))] = 1
    return truth


def _run_config(info: dict, cache: dict, trusted: Trusted) -> RunConfig | None:
    """The config of the run that scored a video (its ``model.run``), or None when it cannot be read or is
    neither inside the scores folder nor a run the user named."""
    run = (info.get("model") or {}).get("run")
    if not run or not isinstance(run, str) or not trusted.allows_run(run):
        return None
    if run not in cache:
        from vadpipe.model.checkpoint import read_run_config  # torch: only when a page names a run

        try:
            cache[run] = read_run_config(run)
        except VadpipeError:  # moved, deleted or from another version: the page goes without its settings
            cache[run] = None
    return cache[run]


def build_report(scores_dir: Path, *, failed: list[str] | None = None, video: str = "auto",
                 videos: Sequence[Path] = (), runs: Sequence[Path] = (),
                 on_video: Callable[[str], None] | None = None, warn: Callable[[str], None] | None = None) -> Report:
    """Write the report of ``scores_dir``.

    Nothing outside ``scores_dir`` is read unless the caller names it (see :mod:`vadpipe.report.trust`).

    Args:
        failed: the inputs that failed in the scoring run (one line each); recorded for rebuilds. None: the
            ones recorded by the last run, if any.
        video: "auto", "webm" or "none" (see :func:`vadpipe.report.media.prepare_media`).
        videos: folders or files the pages may play videos from (besides ``scores_dir``).
        runs: run folders whose settings the pages may show (besides runs inside ``scores_dir``).
        on_video: called with each video's key as it is done (progress). warn: for problems that do not stop it.
    """
    root = Path(scores_dir)
    if root.is_file():
        raise VadpipeError(f"{root}: a file, not a folder; give the --out folder of `vadpipe score`")
    if not root.is_dir():
        raise VadpipeError(f"{root}: no such folder; give the --out folder of `vadpipe score`")
    failed_path = root / FAILED_NAME
    if failed is None:
        try:
            failed = list(json.loads(failed_path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            failed = []
    else:
        write_json(failed_path, list(failed))
    warn = warn or (lambda _line: None)
    report = Report(index=root / INDEX_NAME, failed=list(failed))
    trusted = Trusted.of(root, videos, runs)
    entries, pages, configs, outside = [], {}, {}, 0
    for csv_path in find_scored(root):
        try:
            entry = read_scored_video(csv_path, root)
        except InputError as exc:
            warn(str(exc))
            report.failed.append(str(exc))
            report.unreadable.append(str(exc))
            continue
        page_path = entry.folder / f"{entry.stem}{PAGE_SUFFIX}"
        media = _media(entry, video, trusted, warn)
        outside += media.path is None and media.outside
        html = video_page(entry, page_path, report.index, media.path, media.how,
                          _run_config(entry.info, configs, trusted))
        write_text(page_path, html)
        report.bytes += page_path.stat().st_size
        if media.path is not None and not media.how.startswith("original (hard link)"):
            report.bytes += media.path.stat().st_size
        entries.append(entry)
        pages[entry.key] = page_path
        report.pages.append(str(page_path))
        report.media[entry.key] = media.how
        if on_video:
            on_video(entry.key)
    if outside:
        warn(f"{outside} scored videos are outside {root} and every --videos folder: their pages play no video; "
             "give --videos DIR (where the videos are) to play them")
    if not entries and not report.failed:
        curve, record = score_output(CURVE_OUTPUT).suffix, score_output(RECORD_OUTPUT).suffix
        raise InputError(f"{root}: holds no `vadpipe score` outputs (<stem>{curve} + <stem>{record}); "
                         "run `vadpipe score ... --out` into it first")
    write_text(report.index, index_page(entries, pages, report.index, report.failed,
                                        title=f"Anomaly scores: {root.resolve().name}"))
    report.bytes += report.index.stat().st_size
    return report


def _media(entry: ScoredVideo, mode: str, trusted: Trusted, warn: Callable[[str], None]) -> Media:
    import av

    source = entry.info.get("video")
    if mode == "none":
        return Media(None, "no video (--video none)")
    if not source or not isinstance(source, str) or source.lower().endswith(".npy"):
        return Media(None, "scored from precomputed features")
    located = trusted.locate_video(source, entry.rel_dir)
    if located.path is None:
        earlier = earlier_copy(entry.folder, entry.stem)
        if earlier is not None:
            return Media(earlier, f"the copy an earlier report placed ({located.why})")
        return Media(None, located.why, outside=located.outside)
    located = located.path
    meta = entry.info.get("metadata") or {}
    json_mtime = os.stat(score_output(RECORD_OUTPUT).path(entry.folder, entry.stem)).st_mtime
    try:
        check_video_file(located)
        return prepare_media(located, entry.folder, entry.stem, float(entry.info["fps"]),
                             mode=mode, variable_frame_rate=bool(meta.get("variable_frame_rate")),
                             newer_than=json_mtime)
    except (InputError, OSError, av.FFmpegError) as exc:
        warn(f"{located}: no playable copy for the report ({exc}); its page shows the curve only")
        return Media(None, f"no playable copy could be made ({exc})")
