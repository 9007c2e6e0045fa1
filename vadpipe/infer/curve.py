"""Snippet scores to a per-frame curve (frame f carries the score of snippet f // 16)."""

from __future__ import annotations

import numpy as np

from vadpipe import SNIPPET_FRAMES


def frame_scores(snippet_scores: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """Repeat each snippet score 16 times and cut or extend to ``n_frames``.

    Args:
        snippet_scores: (T,) one score per snippet.
        n_frames: decoded frame count N; None means 16 T (the RTFM convention).
            With ``--tail drop`` the last N - 16 T frames have no snippet: they get
            the last snippet's score.
    Returns:
        (N,) float32.
    """
    scores = np.asarray(snippet_scores, dtype=np.float32)
    curve = np.repeat(scores, SNIPPET_FRAMES)  # (16 T,)
    if n_frames is None or n_frames == curve.size:
        return curve
    if n_frames < curve.size:
        return curve[:n_frames]
    return np.concatenate([curve, np.full(n_frames - curve.size, scores[-1], dtype=np.float32)])
