"""Progress hooks of the batch jobs (`extract`, `score`); every method is optional.

They live apart from the jobs so that the CLI can subclass them without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from vadpipe.features.record import IndexRecord
    from vadpipe.infer.score import VideoScore
    from vadpipe.video.inputs import VideoJob


class ExtractObserver:
    """Hooks of :func:`vadpipe.features.extract_job.run_extract` (the CLI draws Rich bars with them)."""

    def planned(self, todo: int, skipped: int, failed: int) -> None: ...
    def video_started(self, job: VideoJob, snippets: int) -> None: ...
    def snippets_done(self, n: int) -> None: ...
    def video_finished(self, job: VideoJob, record: IndexRecord) -> None: ...
    def note(self, message: str) -> None: ...


class ScoreObserver:
    """Hooks of :func:`vadpipe.infer.scoring.score_inputs`."""

    def planned(self, videos: int) -> None: ...
    def note(self, message: str) -> None: ...
    def extracted(self, video: str, features: np.ndarray) -> None: ...  # (T, C, D) as the backbone made them
    def scored(self, video: str, scores: np.ndarray) -> None: ...  # (T,) snippet scores, averaged over crops
    def video_done(self, result: VideoScore) -> None: ...
    def failed(self, message: str) -> None: ...
