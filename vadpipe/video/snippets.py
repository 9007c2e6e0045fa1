"""16-frame snippets: snippet i = frames [16i, 16i + 16), and what happens to the last partial one.

Tail policies (docs/architecture.md):

- ``pad`` (default, as the RTFM UCF-Crime features were made): the last partial snippet
  is filled by looping its own frames, ``r`` frames ``a, b, c`` giving ``a b c a b c a ...``;
  T = ceil(N / 16). A video shorter than 16 frames gives one looped snippet.
- ``drop``: the partial snippet is left out; T = floor(N / 16). A video shorter than 16
  frames then has no snippet at all, and the pipeline reports it as failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from vadpipe import SNIPPET_FRAMES
from vadpipe.core.feature_spec import TAIL_POLICIES

__all__ = ["TAIL_POLICIES", "frame_count", "frame_scores", "iter_snippet_batches", "loop_indices", "snippet_count"]


def snippet_count(frames: int, tail: str = "pad") -> int:
    """T for a video of ``frames`` frames: ceil(N/16) with ``pad``, floor(N/16) with ``drop``."""
    if tail not in TAIL_POLICIES:
        raise ValueError(f"tail must be one of {TAIL_POLICIES}, got {tail!r}")
    full, rest = divmod(frames, SNIPPET_FRAMES)
    return full + (1 if rest and tail == "pad" else 0)


def frame_count(snippets: int, recorded: int | None = None) -> int:
    """N of a video: the frame count recorded at extraction, else 16·T (the convention of the public features
    and of their ground truth, which were cut into whole snippets)."""
    return int(recorded) if recorded else SNIPPET_FRAMES * int(snippets)


def frames_fit(snippets: int, frames: int) -> bool:
    """Whether N ``frames`` can have been cut into T ``snippets``: T = ceil(N/16) (``pad``) or floor(N/16)
    (``drop``), so 16(T-1) < N < 16(T+1). A recorded count outside is corrupted (and would size the curve)."""
    return SNIPPET_FRAMES * (snippets - 1) < frames < SNIPPET_FRAMES * (snippets + 1)


def loop_indices(available: int, length: int = SNIPPET_FRAMES) -> np.ndarray:
    """Frame order that fills ``length`` slots by looping ``available`` frames: 0 1 .. r-1 0 1 .."""
    return np.arange(length) % available


def iter_snippet_batches(
    frames: Iterable[np.ndarray], *, tail: str = "pad", batch_size: int = 8, max_bytes: int | None = None
) -> Iterator[np.ndarray]:
    """Group a stream of frames into batches of snippets, holding one batch at a time.

    Args:
        frames: ``(H, W, 3)`` uint8 frames in order (all of one size).
        tail: ``pad`` or ``drop`` (module docstring).
        batch_size: snippets per batch; the last batch may be smaller.
        max_bytes: fewer snippets per batch when ``batch_size`` of them would be more bytes than this (large
            frames), at least one.

    Yields:
        uint8 ``(S, 16, H, W, 3)`` arrays, each a new array (safe to hand to another thread).
    """
    if tail not in TAIL_POLICIES:
        raise ValueError(f"tail must be one of {TAIL_POLICIES}, got {tail!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch = None
    s = f = 0  # snippet within the batch, frame within the snippet
    for image in frames:
        if max_bytes is not None and batch is None and s == 0:
            batch_size = max(1, min(batch_size, max_bytes // (SNIPPET_FRAMES * image.nbytes)))
        if batch is None:
            batch = np.empty((batch_size, SNIPPET_FRAMES, *image.shape), dtype=np.uint8)  # (S, 16, H, W, 3)
        batch[s, f] = image
        f += 1
        if f == SNIPPET_FRAMES:
            s, f = s + 1, 0
            if s == batch_size:
                yield batch
                batch, s = None, 0
    if f and tail == "pad":
        batch[s] = batch[s, loop_indices(f)]  # (16, H, W, 3) from the first f frames, looped
        s += 1
    if s:
        yield batch[:s]


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
