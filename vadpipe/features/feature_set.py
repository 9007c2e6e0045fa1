"""A feature set read for a job (train, validation, evaluate): loaded, checked, and its bad inputs told.

:func:`vadpipe.features.formats.load_feature_set` finds the videos of a store, a list file or a
folder; :func:`read_feature_set` also opens every one of them, leaves out those that cannot be
used, and tells an observer about each (the CLI prints them as ``error:`` lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vadpipe.errors import InputError
from vadpipe.features.formats import DimensionMismatch, FeatureVideo, load_feature_set
from vadpipe.features.store import INDEX_NAME
from vadpipe.observers import Observer


@dataclass
class FeatureSetRead:
    """What :func:`read_feature_set` kept and left out."""

    videos: list[FeatureVideo]  # the usable ones
    problems: list[str] = field(default_factory=list)  # one line per input of this job left out, by name
    left_out: set[str] = field(default_factory=set)  # ids of the videos left out (extraction failures too)


def read_feature_set(
    source: str | Path, *, labels: str | Path | None = None, abnormal_first: int | None = None,
    features_root: str | Path | None = None, expected_dim: int | None = None, need_labels: bool = False,
    observer: Observer | None = None,
) -> FeatureSetRead:
    """Load and check a feature set; each bad video is told to ``observer.failed`` and left out.

    Files of another width than ``expected_dim`` are told together in one line (a whole set of
    the wrong backbone is one mistake, not hundreds), though each counts in ``problems``. Videos
    whose *extraction* failed (``failed`` records of a store) are not inputs of this job: they
    are one ``observer.warning`` and not problems.

    Args:
        source, labels, abnormal_first, features_root: as :func:`load_feature_set` takes them
            (``labels`` is its ``labels_csv``).
        expected_dim: the feature width the model takes (None: any, but one per video).
        need_labels: leave out (as a problem) every video without a label (training).
    Returns:
        The usable videos, the problems and the ids left out.
    Raises:
        InputError: no video of the set is usable.
    """
    observer = observer or Observer()
    extraction_failures: list = []
    videos, problems = load_feature_set(
        source, labels_csv=labels, abnormal_first=abnormal_first, features_root=features_root,
        extraction_failures=extraction_failures,
    )
    if extraction_failures:
        observer.warning(f"{source}: {len(extraction_failures)} video(s) whose extraction failed are left out "
                         f"(their errors: `status: failed` records in {Path(source) / INDEX_NAME})")
    for line in problems:
        observer.failed(line)
    read = FeatureSetRead([], problems, {rec.id for rec in extraction_failures})
    mismatched: list[DimensionMismatch] = []
    widths: dict[int, list[FeatureVideo]] = {}
    for video in videos:
        try:
            widths.setdefault(video.validate(expected_dim)[2], []).append(video)
            if need_labels and video.label is None:
                raise InputError(
                    f"{video.files[0]}: no label for {video.id}; give --labels CSV, --abnormal-first N, "
                    "or put the files under normal/ and abnormal/ folders"
                )
        except InputError as exc:
            if isinstance(exc, DimensionMismatch):
                mismatched.append(exc)  # told below, all in one line
            else:
                observer.failed(str(exc))
            read.problems.append(str(exc))
            read.left_out.add(video.id)
            continue
        read.videos.append(video)
    if len(widths) > 1:  # no width asked for, but one a model can take: the set's most common width
        width = max(widths, key=lambda d: (len(widths[d]), -d))
        for d, others in widths.items():
            for video in others if d != width else ():
                mismatched.append(DimensionMismatch(video.files[0], d, width, "the other files of the set are"))
                read.problems.append(str(mismatched[-1]))
                read.left_out.add(video.id)
                read.videos.remove(video)
    if len(mismatched) == 1:
        observer.failed(str(mismatched[0]))
    elif mismatched:
        dims = ", ".join(f"{d}-d" for d in sorted({m.dim for m in mismatched}))
        observer.failed(f"{len(mismatched)} feature files (e.g. {', '.join(str(m.file) for m in mismatched[:2])}) "
                        f"are {dims} but {mismatched[0].whose} {mismatched[0].expected}-d; {mismatched[0].advice}")
    if not read.videos:
        raise InputError(f"{source}: no usable feature files; see the lines above")
    return read
