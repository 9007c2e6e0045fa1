"""The score outputs: one table of the files written for a scored video, each with its writer.

``<stem><suffix>`` for each entry of :data:`SCORE_OUTPUTS`, beside each other. `vadpipe score` writes
them (:func:`vadpipe.infer.score.write_video_outputs`), `watch` writes the ones it names per event
(:data:`vadpipe.live.outputs.EVENT_OUTPUTS`), and the report finds and links them
(:mod:`vadpipe.report.build`). Adding an output format is one entry here plus its writer: a writer
takes the file's path and an :class:`OutputJob` (the scored curve and what else it may need) and
writes the file atomically.

Light to import (no torch, no matplotlib, no PyAV): the report reads this table too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadpipe.atomic import write_json
from vadpipe.infer.intervals import ScoredCurve


@dataclass(frozen=True)
class OverlaySource:
    """Where ``<stem>.overlay.mp4`` takes its picture and sound from.

    Attributes:
        video: the scored video file. resample_fps: the rate its frames were resampled to for scoring
            (None: every decoded frame), so that the overlay shows exactly the frames the curve scores.
    """

    video: Path
    resample_fps: float | None = None


@dataclass(frozen=True)
class OutputJob:
    """What the writers of one scored video (or live event) are given.

    Attributes:
        scored: the curve, its threshold and intervals. title: the picture's title.
        truth: (N,) 0/1 ground-truth frames to draw, or None. overlay: the source of an overlay video, or
            None (then no overlay is written). record: the document the record outputs hold (``<stem>.json``);
            asked for after every other output is written, so it can name them and their seconds.
        release: a live event's release level, drawn with the threshold. gaps: (start_s, end_s) spans of the
            curve that were recorded but not scored (NaN in the curve), shaded on the picture. start_s: the time
            of the curve's first frame on the picture's axis (a live event's stream time).
    """

    scored: ScoredCurve
    title: str
    truth: np.ndarray | None = None
    overlay: OverlaySource | None = None
    record: Callable[[], dict] | None = None
    release: float | None = None
    gaps: tuple[tuple[float, float], ...] = ()
    start_s: float = 0.0


def _write_csv(path: Path, job: OutputJob) -> None:
    from vadpipe.infer.report import write_scores_csv

    write_scores_csv(path, job.scored.curve, job.scored.fps, job.scored.smoothed)


def _write_record(path: Path, job: OutputJob) -> None:
    write_json(path, job.record())


def _write_png(path: Path, job: OutputJob) -> None:
    from vadpipe.infer.report import plot_curve

    s = job.scored
    plot_curve(path, s.curve, s.fps, s.intervals, s.threshold, title=job.title, truth=job.truth, smoothed=s.smoothed,
               release=job.release, gaps=job.gaps, start_s=job.start_s)


def _write_overlay(path: Path, job: OutputJob) -> None:
    from vadpipe.infer.overlay import write_overlay

    s = job.scored
    write_overlay(job.overlay.video, path, s.curve, s.alarm(), s.threshold, s.fps,
                  resample_fps=job.overlay.resample_fps)


def _always(job: OutputJob) -> bool:
    return True


@dataclass(frozen=True)
class ScoreOutput:
    """One kind of per-video output file.

    Attributes:
        name: its key in ``VideoScore.outputs`` (and so in ``<stem>.json`` and ``score --json``).
        suffix: the file is ``<stem><suffix>``.
        write: ``write(path, job)`` writes the file atomically.
        wanted: whether a job gets this output (default: always; the overlay only when it has a source).
        record: written after the others, with ``job.record()``: it records them (paths, seconds).
        timing: the ``timings_s`` entry its writing seconds are added to.
    """

    name: str
    suffix: str
    write: Callable[[Path, OutputJob], None]
    wanted: Callable[[OutputJob], bool] = _always
    record: bool = False
    timing: str = "writing"

    def path(self, folder: Path, stem: str) -> Path:
        return Path(folder) / f"{stem}{self.suffix}"

    def stem_of(self, path: Path) -> str | None:
        """The stem of one of this output's files, or None when ``path`` is not one."""
        name = Path(path).name
        return name[: -len(self.suffix)] if name.endswith(self.suffix) and len(name) > len(self.suffix) else None


SCORE_OUTPUTS: tuple[ScoreOutput, ...] = (  # in the order `outputs` lists them
    ScoreOutput("csv", ".scores.csv", _write_csv),  # frame, time_s, score (, smoothed): one row per frame
    ScoreOutput("json", ".json", _write_record, record=True),  # the VideoScore, the model, the interval options
    ScoreOutput("png", ".png", _write_png),  # the curve, intervals shaded, threshold drawn
    ScoreOutput("overlay", ".overlay.mp4", _write_overlay, wanted=lambda job: job.overlay is not None,
                timing="overlay"),  # the video with the live score; `score --overlay`
)

PLAY_SUFFIX = ".play"  # the report's playable copy of a video: <stem>.play.mp4|webm (vadpipe.report.media)


def is_own_video_output(path: str | Path) -> bool:
    """Whether ``path`` is a video vadpipe wrote beside the scores (``<stem>.overlay.mp4``, the report's
    ``<stem>.play.*``): scoring a folder into itself must not score its own outputs on the next run."""
    name = Path(path).name.lower()
    videos = [o.suffix for o in SCORE_OUTPUTS if o.suffix.endswith(".mp4")]
    return any(name.endswith(suffix) for suffix in videos) or Path(name).stem.endswith(PLAY_SUFFIX)


CURVE_OUTPUT = "csv"  # the output that marks a scored video in a folder (the report reads the curve from it)
RECORD_OUTPUT = "json"  # the output that holds a scored video's result


def score_output(name: str) -> ScoreOutput:
    """The table's entry called ``name`` (KeyError when there is none)."""
    for output in SCORE_OUTPUTS:
        if output.name == name:
            return output
    raise KeyError(f"no score output {name!r}; known: {', '.join(o.name for o in SCORE_OUTPUTS)}")


def select_outputs(job: OutputJob) -> list[ScoreOutput]:
    """The entries ``job`` gets (each one's ``wanted``), in table order."""
    return [o for o in SCORE_OUTPUTS if o.wanted(job)]


def named_outputs(names: Iterable[str]) -> list[ScoreOutput]:
    """The entries called ``names``, in table order (KeyError for a name the table does not have)."""
    wanted = {score_output(name).name for name in names}
    return [o for o in SCORE_OUTPUTS if o.name in wanted]


def output_paths(outputs: Iterable[ScoreOutput], folder: Path, stem: str) -> dict[str, Path]:
    """name -> ``folder/<stem><suffix>``, in the order given."""
    return {o.name: o.path(folder, stem) for o in outputs}


def write_outputs(outputs: Iterable[ScoreOutput], folder: Path, stem: str, job: OutputJob, *,
                  timings: dict[str, float] | None = None) -> None:
    """Write ``outputs`` for ``job`` into ``folder`` (made if missing), the record outputs last.

    Args:
        timings: when given, each output's writing seconds are added to its ``timing`` entry (before the
            record outputs are written, so that they hold them; their own seconds are not counted).
    """
    import time

    outputs = list(outputs)
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        for output in [o for o in outputs if not o.record] + [o for o in outputs if o.record]:
            started = time.perf_counter()
            output.write(output.path(folder, stem), job)
            if timings is not None and not output.record:
                timings[output.timing] = timings.get(output.timing, 0.0) + time.perf_counter() - started
    except BaseException:
        # None of this video's outputs stay (nor an older run's record of it): a curve without its record
        # (a full disk) would be read as a finished video, with another run's numbers.
        for output in outputs:
            output.path(folder, stem).unlink(missing_ok=True)
        raise


def outputs_beside(folder: Path, stem: str) -> dict[str, Path]:
    """name -> path of each score output of ``stem`` that exists in ``folder``, in table order."""
    paths = output_paths(SCORE_OUTPUTS, folder, stem)
    return {name: path for name, path in paths.items() if path.is_file()}


def find_scored(root: Path) -> list[Path]:
    """The curve file (``<stem>.scores.csv``) of every scored video under ``root`` (not temp files), sorted."""
    suffix = score_output(CURVE_OUTPUT).suffix
    return sorted(p for p in Path(root).rglob(f"*{suffix}") if not p.name.startswith(".") and p.is_file())
