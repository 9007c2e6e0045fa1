"""Ground truth for ``vadpipe score --gt``: a scored video's frame labels, read from an annotation file.

The file is read by :func:`vadpipe.eval.groundtruth.load_ground_truth`, as ``evaluate`` reads it
(UCF-Crime or XD-Violence annotation ``.txt``). A video is looked up by its name without the
extension (``Abuse028_x264.mp4`` -> ``Abuse028_x264``; a feature file by its store's video id).
A video the file does not name gets no ground truth, and :meth:`ScoreTruth.summary` says how many
in one line. Annotations count the frames of the video as decoded; when scoring resampled them
(a run extracted with ``--fps``), each scored frame takes the label of the source frame shown then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadpipe.errors import InputError, UsageError
from vadpipe.eval.groundtruth import GroundTruth, load_ground_truth


@dataclass
class ScoreTruth:
    """A ground-truth file, and the scored videos it did not name."""

    gt: GroundTruth
    absent: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path) -> ScoreTruth:
        """Raises UsageError (``param`` ``gt``) for a concatenated ``.npy``, InputError for a bad file."""
        if Path(path).suffix.lower() == ".npy":
            raise UsageError(f"gt {path}: a concatenated frame-level .npy follows the order of `evaluate`'s test "
                             "list, which score does not have; give the per-video annotation .txt (UCF-Crime or "
                             "XD-Violence style)", param="gt")
        return cls(load_ground_truth(path))

    @property
    def file(self) -> str:
        return str(self.gt.path)

    def labels(self, video_id: str, n_frames: int, *, source_fps: float | None = None,
               fps: float | None = None, source_frames: int | None = None) -> tuple[np.ndarray | None, str | None]:
        """(N,) 0/1 labels of one scored video and a note when the annotation was clipped; (None, None) when
        the file does not name it.

        Args:
            n_frames: N, the scored frame count. source_fps, fps, source_frames: when scoring resampled the
                video from ``source_fps`` (``source_frames`` decoded) to ``fps``.
        """
        from vadpipe.features.formats import infer_label

        label = infer_label(video_id)
        # XD-Violence lists only violent videos: one unlisted but named normal (_label_A) is known to be normal.
        known = video_id in self.gt.video_ids or (self.gt.kind == "xd" and label == 0)
        if not known:
            self.absent.append(video_id)
            return None, None
        resampled = bool(source_fps and fps and source_frames)
        try:
            labels, note = self.gt.labels_for(video_id, source_frames if resampled else n_frames, label)
        except InputError:
            self.absent.append(video_id)
            return None, None
        if resampled:  # scored frame k is on screen at k / fps: the source frame shown then
            idx = np.minimum(np.floor(np.arange(n_frames) * source_fps / fps + 1e-6).astype(np.int64),
                             source_frames - 1)  # (N,)
            labels = labels[idx]
        return labels, note

    def summary(self, scored: int) -> str | None:
        """One line on the scored videos the file does not name, or None when it names them all."""
        if not self.absent:
            return None
        names = ", ".join(self.absent[:3]) + (", ..." if len(self.absent) > 3 else "")
        return (f"{self.file} does not name {len(self.absent)} of the {scored} scored video(s) ({names}); "
                "they have no ground-truth band")
