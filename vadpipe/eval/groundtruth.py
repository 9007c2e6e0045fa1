"""Frame-level ground truth from the public annotation formats.

- UCF-Crime ``Temporal_Anomaly_Annotation*.txt``: ``name class s1 e1 s2 e2`` (``-1`` when absent).
- XD-Violence ``annotations.txt``: ``name s1 e1 [s2 e2 ...]``; normal videos are not listed.
- A concatenated frame-level ``.npy`` (RTFM style), in the order of the test list,
  each video contributing 16·T frames.

Interval ends follow each dataset's own ground-truth builders:

- UCF-Crime: ``s … e`` inclusive, as the common evaluation code builds it (RTFM's
  ``list/make_gt_ucf.py``: ``for i in range(start, end + 1)``).
- XD-Violence: ``s … e-1``, as its own ``list/make_gt.py`` does (``gt_vec[s:e] = 1``).

Text files are read with a BOM or CRLF line ends, as published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadpipe.errors import InputError
from vadpipe.textfile import read_text
from vadpipe.video.names import strip_extension

# The ground-truth files read, as an error names them.
ACCEPTED = ("a UCF-Crime Temporal_Anomaly_Annotation .txt (`name class start end start end`), an XD-Violence "
            "annotations.txt (`name start end ...`) or, for evaluate, a concatenated frame-level .npy")


@dataclass
class GroundTruth:
    """Abnormal intervals per video id, or whole frame vectors per video id."""

    path: Path
    kind: str  # "ucf", "xd" or "frames"
    inclusive_end: bool = False  # UCF-Crime intervals include their end frame
    intervals: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    frames: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def video_ids(self) -> set[str]:
        return set(self.intervals) | set(self.frames)

    def labels_for(self, video_id: str, n_frames: int, video_label: int | None) -> tuple[np.ndarray, str | None]:
        """Frame labels (N,) for one video, and a note when the annotation had to be adjusted.

        Raises:
            InputError: the ground truth says nothing about this video.
        """
        if self.kind == "frames":
            if video_id not in self.frames:
                raise InputError(f"{self.path}: no ground truth for {video_id}")
            gt = self.frames[video_id]
            note = None
            if gt.size != n_frames:
                note = f"{video_id}: ground truth has {gt.size} frames, scores {n_frames}; truncated/padded"
                gt = np.pad(gt, (0, max(0, n_frames - gt.size)))[:n_frames]
            return gt.astype(np.uint8), note
        labels = np.zeros(n_frames, dtype=np.uint8)
        if video_id not in self.intervals:
            if self.kind == "xd" and video_label != 1:
                return labels, None  # XD lists only violent videos; the rest are normal
            raise InputError(f"{self.path}: {video_id} is not annotated; add it, or leave it out of the test set")
        note = None
        for start, last in self.intervals[video_id]:
            end = last + 1 if self.inclusive_end else last  # half-open from here on
            if end > n_frames:
                note = f"{video_id}: interval {start}-{last} runs past the {n_frames} scored frames; clipped"
            labels[max(0, start) : min(end, n_frames)] = 1
        return labels, note


def load_ground_truth(path: str | Path, *, video_order: list[tuple[str, int]] | None = None) -> GroundTruth:
    """Read a ground-truth file of any supported kind.

    Args:
        path: ``.txt`` annotation (UCF-Crime or XD-Violence style) or concatenated ``.npy``.
        video_order: for ``.npy`` only: (video id, number of frames) in the order the file
            was concatenated (the test list order, 16·T frames each).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: ground-truth file not found")
    if path.suffix == ".npy":
        return _split_concatenated(path, video_order or [])
    text = read_text(path, "a ground-truth annotation file")  # any encoding; a BOM is not part of the first name
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"{path}: empty ground-truth file")
    if path.suffix.lower() == ".csv" or "," in lines[0][0]:
        raise InputError(f"{path}: a CSV (video-level labels, `video,label`, go to --labels), not frame-level ground "
                         f"truth; give {ACCEPTED}")
    is_ucf = all(len(p) == 6 and not _is_int(p[1]) for p in lines)
    gt = GroundTruth(path=path, kind="ucf" if is_ucf else "xd", inclusive_end=is_ucf)
    for line_no, parts in enumerate(lines, start=1):
        numbers = parts[2:] if is_ucf else parts[1:]
        if not numbers or len(numbers) % 2 or not all(_is_int(n) for n in numbers):
            raise InputError(f"{path}:{line_no}: expected `name [class] start end ...` with integer frames; "
                             f"give {ACCEPTED}")
        pairs = [(int(numbers[i]), int(numbers[i + 1])) for i in range(0, len(numbers), 2)]
        for start, end in pairs:
            if start >= 0 and end < start:
                raise InputError(f"{path}:{line_no}: interval {start} {end} ends before it starts; fix the line")
        gt.intervals[strip_extension(parts[0])] = [(s, e) for s, e in pairs if s >= 0 and e >= 0]
    return gt


def _split_concatenated(path: Path, video_order: list[tuple[str, int]]) -> GroundTruth:
    try:
        concat = np.load(path, allow_pickle=False).reshape(-1)
    except (ValueError, OSError, EOFError) as exc:  # not .npy, truncated, or objects (pickles: never loaded)
        raise InputError(f"{path}: not a readable frame-level ground truth .npy ({exc}); give a 0/1 array") from None
    if not (np.issubdtype(concat.dtype, np.number) or concat.dtype == np.bool_):
        raise InputError(f"{path}: holds {concat.dtype} values, not 0/1 frame labels; give a numeric 0/1 array")
    expected = sum(n for _, n in video_order)
    if concat.size != expected:
        raise InputError(
            f"{path}: holds {concat.size:,} frames but the test features imply {expected:,} (16 x snippets, "
            "in list order); this ground truth was made for other features (e.g. the RTFM 2048-d ones) - "
            "use the one made for these features, or the annotation .txt which is aligned per video"
        )
    gt = GroundTruth(path=path, kind="frames")
    offset = 0
    for vid, n in video_order:
        gt.frames[vid] = (concat[offset : offset + n] > 0.5).astype(np.uint8)
        offset += n
    return gt


def _is_int(text: str) -> bool:
    """An ASCII whole number (``isdigit`` alone takes ``²``, which ``int`` refuses)."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isascii() and digits.isdigit()
