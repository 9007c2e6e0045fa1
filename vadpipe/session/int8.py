"""Precision int8 in a backbone session: calibration snippets from the user's own videos, then the check.

``--precision int8`` asks the session for the backbone quantized on OpenVINO
(:mod:`vadpipe.engines.quantize`). The session reads calibration snippets from the videos
being processed (or from ``--calibrate`` videos), spread over each video and over the
videos in order, preprocessed exactly as the features will be; every fourth of them
checks the quantized model against fp32. Passed: the forward pass runs in int8 and the
session's spec says ``int8``. Refused (or quantization failed): fp32 runs, and the user is
told why with the measured figure.

The same videos and settings give the same snippets, so a resumed extract, or `score` on
the videos `extract` calibrated on, finds the quantized model in the cache, by the videos'
identity without decoding them again (:class:`vadpipe.engines.quantize.Calibration`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path

import torch

from vadpipe.errors import InputError, UsageError
from vadpipe.observers import Observer

CALIBRATION_CLIPS = 96  # snippets x crops read for calibration and its check (~0.9 GB at 224 px); 48 left the
# demo's held-out check at 0.9944 (refused), 96 at 0.9993 with every snippet at 0.999 or above
MAX_STRIDE = 8  # snippets skipped at most between two calibration snippets of a video (bounds decoding)


def calibration_videos(paths: Sequence[str | Path]) -> list[Path]:
    """The videos of ``paths`` (videos, folders or lists) in the order calibration reads them."""
    from vadpipe.video.inputs import collect_videos

    return [Path(job.video) for job in collect_videos([str(p) for p in paths]) if job.problem is None]


def calibration_snippets(paths: Sequence[str | Path], session, *, clips: int = CALIBRATION_CLIPS) -> torch.Tensor:
    """Preprocessed snippets ``(S, C, 3, 16, h, w)`` of ``paths`` (videos, folders or lists), in their order.

    About ``clips / C`` snippets (at least 4) are taken, an even share from each video (at most every
    :data:`MAX_STRIDE`-th snippet, so a long video is not decoded whole), until there are enough.
    Videos that cannot be read are passed over (the job reports them).
    """
    return read_calibration(calibration_videos(paths), session, clips=clips)[0]


def read_calibration(videos: Sequence[Path], session, *, clips: int = CALIBRATION_CLIPS
                     ) -> tuple[torch.Tensor, list[str]]:
    """``(snippets, read)``: :func:`calibration_snippets` of ``videos``, and the videos it went through."""
    from vadpipe.video.decode import VideoReader
    from vadpipe.video.snippets import iter_snippet_batches, snippet_count

    spec = session.spec
    want = max(4, clips // spec.crops)
    taken: list[torch.Tensor] = []  # (C, 3, 16, h, w) each
    read: list[str] = []
    for i, video in enumerate(videos):
        share = math.ceil((want - len(taken)) / (len(videos) - i))  # what is left, over the videos left
        read.append(str(video))
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
        return torch.empty((0, spec.crops, 3, 16, spec.crop_size, spec.crop_size)), read
    return torch.stack(taken), read  # (S, C, 3, 16, h, w)


def calibration_of(videos: Sequence[Path], session, *, clips: int = CALIBRATION_CLIPS):
    """The session's calibration snippets of ``videos`` as a :class:`~vadpipe.engines.quantize.Calibration`:
    named by the spec, ``clips`` and the videos' paths, read only when no cached model was made from them."""
    from vadpipe.engines.quantize import Calibration

    spec = dataclasses.replace(session.spec, int8=False)
    paths = "\n".join(str(Path(v).resolve()) for v in videos)  # thousands, for an extract of a large set
    lookup = {"spec": dataclasses.asdict(spec), "clips": clips, "max_stride": MAX_STRIDE, "videos": len(videos),
              "videos_sha256": hashlib.sha256(paths.encode()).hexdigest()}
    return Calibration(lookup, (3, 16, spec.crop_size, spec.crop_size),
                       lambda: read_calibration(videos, session, clips=clips))


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
    outcome = quantize.int8_backbone(session.net, calibration_of(calibration_videos(calibration), session),
                                     threshold=quantize.INT8_MIN_COSINE, notify=observer.note,
                                     fp32=session.runner.module)  # the session's OpenVINO fp32 engine
    session.runner.use(outcome.backbone, outcome.precision)
    session.int8_check = dataclasses.asdict(outcome.check) if outcome.check else None
    session.spec = dataclasses.replace(session.spec, int8=outcome.precision == "int8")
    if outcome.note:
        observer.note(outcome.note)
    else:
        check = outcome.check
        centred = ("" if check.centred_min_cosine is None else
                   f"; centred on their mean feature, min {quantize.floor_6(check.centred_min_cosine)}")
        observer.note(f"precision int8: {check.describe()} (at least {quantize.INT8_MIN_COSINE} needed){centred}")
