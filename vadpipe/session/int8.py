"""Precision int8 in a backbone session: calibration snippets from the user's own videos, then the check.

``--precision int8`` asks the session for the backbone quantized on OpenVINO
(:mod:`vadpipe.engines.quantize`). The session reads calibration snippets from the videos
being processed (or from ``--calibrate`` videos), spread over each video and over the
videos in order, preprocessed exactly as the features will be; the last quarter of them
checks the quantized model against fp32. Passed: the forward pass runs in int8 and the
session's spec says ``int8``. Refused (or quantization failed): fp32 runs, and the user is
told why with the measured figure.

The same videos and settings give the same snippets, so a resumed extract, or `score` on
the videos `extract` calibrated on, finds the quantized model in the cache.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from vadpipe.errors import InputError, UsageError
from vadpipe.observers import Observer

CALIBRATION_CLIPS = 48  # snippets x crops read for calibration and its check (~460 MB at 224 px)
MAX_STRIDE = 8  # snippets skipped at most between two calibration snippets of a video (bounds decoding)


def calibration_snippets(paths: Sequence[str | Path], session, *, clips: int = CALIBRATION_CLIPS) -> torch.Tensor:
    """Preprocessed snippets ``(S, C, 3, 16, h, w)`` of ``paths`` (videos, folders or lists), in their order.

    About ``clips / C`` snippets (at least 4) are taken, an even share from each video (at most every
    :data:`MAX_STRIDE`-th snippet, so a long video is not decoded whole), until there are enough.
    Videos that cannot be read are passed over (the job reports them).
    """
    from vadpipe.video.decode import VideoReader
    from vadpipe.video.inputs import collect_videos
    from vadpipe.video.snippets import iter_snippet_batches, snippet_count

    spec = session.spec
    videos = [job.video for job in collect_videos([str(p) for p in paths]) if job.problem is None]
    want = max(4, clips // spec.crops)
    taken: list[torch.Tensor] = []  # (C, 3, 16, h, w) each
    for i, video in enumerate(videos):
        share = math.ceil((want - len(taken)) / (len(videos) - i))  # what is left, over the videos left
        try:
            with VideoReader(video, fps=spec.resample_fps) as reader:
                count = snippet_count(reader.estimated_frames(), spec.tail) or share
                stride = min(MAX_STRIDE, max(1, count // share))
                got = 0
                for k, snippet in enumerate(iter_snippet_batches(reader, tail=spec.tail, batch_size=1)):
                    if k % stride:
                        continue
                    with torch.no_grad():
                        taken.append(session.preprocess(torch.from_numpy(snippet))[0])  # (C, 3, 16, h, w)
                    got += 1
                    if got >= share:
                        break
        except InputError:
            continue
        if len(taken) >= want:
            break
    if not taken:
        return torch.empty((0, spec.crops, 3, 16, spec.crop_size, spec.crop_size))
    return torch.stack(taken)  # (S, C, 3, 16, h, w)


def use_int8(session, calibration: Sequence[str | Path], observer: Observer | None = None) -> None:
    """Quantize the session's backbone on snippets of ``calibration`` and use it when it passes its check.

    Afterwards ``session.precision`` is ``int8`` (and ``session.spec.int8`` true) or ``fp32``, and
    ``session.int8_check`` holds the measured figures (None when there were none); what happened is
    told to ``observer`` as a note.

    Raises:
        UsageError: no calibration videos (a live stream without ``calibrate``).
    """
    from vadpipe.engines import quantize

    observer = observer or Observer()
    if not calibration:
        raise UsageError("precision int8 needs videos to quantize on: give calibrate with videos or a folder of "
                         "footage like the stream's", param="precision", params=("calibrate",))
    snippets = calibration_snippets(calibration, session)
    key = quantize.quantize_key(session.net, snippets) if len(snippets) >= 2 else None
    if key is not None and quantize.cached_int8(key) is None:
        observer.note(f"precision int8: quantizing {session.spec.backbone} on {len(snippets)} snippets of your "
                      f"videos and checking it against fp32, once for these snippets (cached in "
                      f"{quantize.entry_paths(key)[0].parent}); a minute or more on a small CPU")
    outcome = quantize.int8_backbone(session.net, snippets, threshold=quantize.INT8_MIN_COSINE)
    session.runner.use(outcome.backbone, outcome.precision)
    session.int8_check = dataclasses.asdict(outcome.check) if outcome.check else None
    session.spec = dataclasses.replace(session.spec, int8=outcome.precision == "int8")
    if outcome.note:
        observer.note(outcome.note)
    else:
        observer.note(f"precision int8: {outcome.check.describe()} (at least {quantize.INT8_MIN_COSINE} needed)")
