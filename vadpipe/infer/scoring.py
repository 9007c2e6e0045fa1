"""`vadpipe score` as a library call: inputs + a loaded run + options -> one :class:`VideoScore` per video.

Raw videos are extracted with exactly the feature spec the run was trained on
(:func:`scoring_spec`: an override that conflicts with it is refused in one line), scored
over the whole video at once, and written as ``<stem>.scores.csv`` / ``.json`` / ``.png``
(and an overlay video on request). Precomputed feature files are scored as they are, with
their frame count and fps from their store's index. `vadpipe score`, `vadpipe demo` and
``bench/score.py`` all go through :func:`score_inputs`.

Precision int8 is the one spec field scoring lets differ from the run's: features made on
the fly and thrown away may come from the quantized backbone for a run trained on fp32
features (or the other way round), because the quantized model was checked against fp32 on
the very videos scored (or ``--calibrate`` ones); a note says so, and every result records
``precision`` and ``int8_check``. Stores never mix them (:class:`~vadpipe.core.feature_spec.FeatureSpec`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vadpipe.core.feature_spec import DEFAULT_CROP_ORDER, FeatureSpec, public_spec
from vadpipe.core.forward import ForwardOptions
from vadpipe.errors import InputError, UsageError, VadpipeError, disk_error_line, is_disk_error
from vadpipe.infer.outputs import is_own_video_output
from vadpipe.infer.score import IntervalOptions, OverlaySource, VideoScore, snippet_scores, write_video_outputs
from vadpipe.infer.truth import ScoreTruth
from vadpipe.model.checkpoint import CONFIG_NAME, RunConfig, load_run
from vadpipe.observers import Observer
from vadpipe.video.names import strip_extension
from vadpipe.video.snippets import SNIPPET_FRAMES, frame_count, frames_fit

DEFAULT_FEATURES_FPS = 30.0  # a bare feature file's assumed rate (UCF-Crime's), said in a note


@dataclass
class ScoringRun:
    """A trained run, loaded: the scorer (eval mode, on its device), its config and its folder."""

    scorer: object  # vadpipe.model.scorer.AnomalyScorer
    config: RunConfig
    path: Path

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "auto") -> ScoringRun:
        from vadpipe.devices import resolve_device

        scorer, config = load_run(run_dir, resolve_device(device))
        return cls(scorer, config, Path(run_dir))


@dataclass(frozen=True)
class ScoreOptions:
    """Attributes:
        out: folder for the per-video outputs (a video's are under its path below its input folder).
        intervals: how the curve becomes intervals.
        overlay: also write ``<stem>.overlay.mp4``.
        forward: how the backbone runs on raw videos (batch size, device, ...).
        weights: backbone checkpoint file or registry name (None: the cached default).
        backbone, crops, tail: the feature spec when the run records none; otherwise they must agree
            with it (``crops`` may be fewer: scores are averaged over crops, and 1 ⊂ 5 ⊂ 10).
        features_fps: the frame rate of a feature file with no store index beside it (None:
            :data:`DEFAULT_FEATURES_FPS`, and a note says so).
        ground_truth: draw and record each scored video's ground truth from this file (None: none).
    """

    out: Path = Path("vadpipe-scores")
    intervals: IntervalOptions = field(default_factory=IntervalOptions)
    overlay: bool = False
    forward: ForwardOptions = ForwardOptions()
    weights: str | None = None
    backbone: str | None = None
    crops: int | None = None
    tail: str | None = None
    features_fps: float | None = None
    ground_truth: ScoreTruth | None = None


def scoring_spec(config: RunConfig, *, backbone: str | None = None, crops: int | None = None,
                 tail: str | None = None, observer: Observer | None = None,
                 source: str = "the run's config.json") -> FeatureSpec:
    """The spec to extract raw videos with: the run's own, checked against the overrides given.

    A run trained on a public feature set's lists records no spec: it gets the spec that set was
    made with (:data:`~vadpipe.core.feature_spec.PUBLIC_FEATURE_SETS`, by feature size, told to
    ``observer`` as a note), unless ``backbone`` is given.

    ``source`` names the run's config file: a problem of the spec it records is blamed on that file and
    field, never on a flag that was not given.

    Raises:
        UsageError: an override that conflicts with the run's spec, a run that records no spec and no
            ``backbone`` given, or a backbone whose features do not fit the model (``param`` names it).
        VadpipeError: the spec the run records cannot be extracted with (naming ``source`` and the field).
    """
    observer = observer or Observer()
    recorded = config.features
    dim = config.scorer.feature_dim
    public = public_spec(dim) if recorded is None else None
    if recorded is None and backbone is None and public is not None:
        name, recorded = public  # trained on a public feature set's lists: made as that set was
        observer.note(f"the run records no feature spec (trained on {dim}-d features from elsewhere); extracting "
                      f"as the {name} features were made ({recorded.describe()}); --backbone / --crops / --tail "
                      "choose otherwise")
    if recorded is None:
        if backbone is None:
            raise UsageError("backbone: the run does not record how its features were made (it was trained on "
                             f"{dim}-d features from elsewhere); name the backbone that made them", param="backbone")
        spec = FeatureSpec.resolve(backbone, crops=crops, tail=tail)
    else:
        for name, given in (("backbone", backbone), ("tail", tail)):
            if given is not None and given != getattr(recorded, name):
                raise UsageError(f"{name} {given}: the run was trained on features with {name} "
                                 f"{getattr(recorded, name)}; leave it out to use the run's", param=name)
        if crops is not None and crops > recorded.crops:
            raise UsageError(f"crops {crops}: the run was trained on {recorded.crops}-crop features; "
                             f"give at most {recorded.crops} (fewer is faster)", param="crops")
        if crops is not None and crops != recorded.crops:  # fewer crops: that count's own order (a subset)
            recorded = dataclasses.replace(recorded, crops=crops, crop_order=DEFAULT_CROP_ORDER.get(crops))
        try:
            spec = recorded.checked()
        except UsageError as exc:  # the file's value, not a flag: the file and the field
            raise VadpipeError(f"{source}: features.{exc}; fix that field or retrain the run") from exc
        if backbone is None and spec.dim is None:
            raise VadpipeError(f"{source}: features.backbone {spec.backbone!r} is not a backbone vadpipe can run "
                               "(the run was trained on features made elsewhere); give --backbone with the one "
                               f"that made its {dim}-d features")
        if backbone is None and spec.dim != dim:
            raise VadpipeError(f"{source}: features.backbone {spec.backbone} makes {spec.dim}-d features but "
                               f"scorer.feature_dim is {dim}; fix that field or retrain the run")
    if spec.dim != dim:
        raise UsageError(f"backbone {spec.backbone} makes {spec.dim}-d features but the model in the run expects "
                         f"{dim}-d; use the backbone it was trained on", param="backbone")
    return spec


def score_inputs(
    inputs: list[str | Path],
    run: ScoringRun,
    options: ScoreOptions = ScoreOptions(),
    *,
    features: list[str | Path] = (),
    observer: Observer | None = None,
) -> Iterator[VideoScore]:
    """Score feature files (``features``) and raw videos (``inputs``), yielding one result per good video.

    A bad input is reported to ``observer.failed`` (one line naming it) and the rest go on.

    Raises:
        UsageError: nothing to score, or options that conflict with the run. VadpipeError: the output
            folder is not writable, or the backbone's weights are missing.
    """
    observer = observer or Observer()
    if not inputs and not features:
        raise UsageError("give videos to score, or feature files (.npy)")
    check_writable(options.out)
    scored, bare = 0, []
    for npy in features:
        try:
            result = _score_features_file(Path(npy), run, options)
        except InputError as exc:
            observer.failed(str(exc))
            continue
        except OSError as exc:  # a name too long, a full disk: this input's outputs are gone, the rest go on
            if not is_disk_error(exc):
                raise
            observer.failed(disk_error_line(exc, f"cannot write the outputs of {npy}"))
            continue
        scored += 1
        if "fps_source" in result.metadata and options.features_fps is None:
            bare.append(Path(npy).name)
        yield result
    if bare:
        observer.note(_assumed_fps_note(bare))
    if inputs:
        for result in _score_videos(inputs, run, options, observer):
            scored += 1
            yield result
    summary = options.ground_truth.summary(scored) if options.ground_truth else None
    if summary:
        observer.note(summary)


def _assumed_fps_note(names: list[str]) -> str:
    which = names[0] if len(names) == 1 else f"{len(names)} feature files ({', '.join(names[:3])}" + \
        (", ...)" if len(names) > 3 else ")")
    return (f"{which}: no index.jsonl above to give frame count and rate; seconds assume "
            f"{DEFAULT_FEATURES_FPS:g} fps and {SNIPPET_FRAMES} frames per snippet; give --fps with the video's "
            "real rate")


def check_writable(out: Path) -> None:
    """Raises VadpipeError (``param`` ``out``) unless files can be written in ``out`` (made if missing)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".vadpipe-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise VadpipeError(f"{out}: output folder is not writable ({exc.strerror}); choose another output folder",
                           param="out") from exc


def _score_features_file(npy: Path, run: ScoringRun, options: ScoreOptions) -> VideoScore:
    from vadpipe.features.formats import record_of_feature_file, video_id_of_file
    from vadpipe.features.store import open_features

    feats = open_features(npy)
    record = record_of_feature_file(npy)
    started = time.perf_counter()
    scores = snippet_scores(run.scorer, feats, run.config.scorer.feature_dim, str(npy))
    scorer_s = time.perf_counter() - started
    if record and record.frames and not frames_fit(len(scores), record.frames):
        raise InputError(f"{npy}: its index records {record.frames} frames, which cannot make its {len(scores)} "
                         "snippets; re-extract the video, or fix or delete its index line")
    n_frames = frame_count(len(scores), record.frames if record else None)
    metadata = {}
    fps = record.fps if record else None
    if not fps:  # a bare file (or an index without a rate): what the seconds rest on is recorded
        fps = options.features_fps or DEFAULT_FEATURES_FPS
        metadata["fps_source"] = "--fps" if options.features_fps else f"assumed {DEFAULT_FEATURES_FPS:g} (no index)"
        if not (record and record.frames):
            metadata["frames_source"] = f"{SNIPPET_FRAMES} per snippet (no index)"
    video_id = record.id if record else video_id_of_file(npy.name)
    truth, truth_file = _truth(options, video_id, n_frames)
    return write_video_outputs(options.out, npy.stem, scores, n_frames=n_frames, fps=fps, config=run.config,
                               options=options.intervals, source=record.video if record else str(npy),
                               model_dir=str(run.path), metadata=metadata, truth=truth, truth_file=truth_file,
                               timings_s={"scorer": scorer_s})


def _truth(options: ScoreOptions, video_id: str, n_frames: int, info=None) -> tuple[np.ndarray | None, str | None]:
    """(N,) ground-truth labels of a scored video and the file they came from, or (None, None)."""
    if options.ground_truth is None:
        return None, None
    resampled = {}
    if info is not None and info.source_fps:
        resampled = {"source_fps": info.source_fps, "fps": info.fps, "source_frames": info.decoded_frames}
    labels, _ = options.ground_truth.labels(video_id, n_frames, **resampled)
    return (labels, options.ground_truth.file) if labels is not None else (None, None)


def _score_videos(inputs, run: ScoringRun, options: ScoreOptions, observer: Observer) -> Iterator[VideoScore]:
    from vadpipe.features.extract import check_batch_size, extract_videos
    from vadpipe.session.backbone import open_session, resolve_forward
    from vadpipe.video.inputs import collect_videos

    spec = scoring_spec(run.config, backbone=options.backbone, crops=options.crops, tail=options.tail,
                        observer=observer, source=str(run.path / CONFIG_NAME))
    jobs = collect_videos([str(p) for p in inputs])
    given = {Path(p).expanduser() for p in inputs}
    own = [j for j in jobs if j.video not in given and is_own_video_output(j.video)]
    if own:  # found in a folder that was scored into itself: outputs, not inputs
        jobs = [j for j in jobs if j not in own]
        observer.note(f"left out {len(own)} of vadpipe's own outputs found in the input folders (e.g. "
                      f"{own[0].video.name}: overlays and the report's playable copies are not scored again)")
    good = [j for j in jobs if j.problem is None]
    for job in jobs:
        if job.problem:
            observer.failed(job.problem)
    if not good:  # every input missing or refused: said above, no backbone to build
        return
    forward = resolve_forward(options.forward)  # a missing or conflicting engine: before the backbone
    if forward.options.batch_size:
        check_batch_size(forward.options.batch_size, spec)
    session = open_session(spec, forward, weights=options.weights, observer=observer,
                           calibration=[j.video for j in good])
    note = int8_note(spec, session)
    if note:
        observer.note(note)
    observer.planned(len(good))
    by_path = {j.video: j for j in good}
    started = time.perf_counter()
    for item in extract_videos([j.video for j in good], session):
        extracted = time.perf_counter()
        job = by_path[item.path]
        try:
            if item.error is not None:
                raise item.error
            observer.event("extracted", {"video": str(job.video), "features": item.features})
            scores = snippet_scores(run.scorer, item.features, run.config.scorer.feature_dim, str(job.video))
            observer.event("scored", {"video": str(job.video), "scores": scores})
            timings = {"decode_and_backbone": extracted - started, "scorer": time.perf_counter() - extracted}
            result = _write(job, item, scores, run, options, session=session, timings=timings)
        except InputError as exc:
            observer.failed(str(exc))
        except OSError as exc:  # a name too long, a full disk: this video's outputs are gone, the rest go on
            observer.failed(disk_error_line(exc, f"cannot write the outputs of {job.video}"))
        else:
            observer.finished(result.video, result)
            yield result
        started = time.perf_counter()


def int8_note(run_spec: FeatureSpec, session) -> str | None:
    """A note when the session's features are int8 and the run's were not, or the other way round (else None)."""
    if run_spec.int8 == session.spec.int8:
        return None
    if session.spec.int8:
        from vadpipe.engines.quantize import floor_6

        return (f"the run was trained on fp32 features; scoring with int8 features, which matched fp32 on "
                f"your footage to min cosine {floor_6(session.int8_check['min_cosine'])} (recorded as precision "
                "int8)")
    return ("the run was trained on int8 features; scoring with fp32 features, which they approximate "
            "(recorded as precision fp32)")


def _write(job, item, scores: np.ndarray, run: ScoringRun, options: ScoreOptions, *, session,
           timings: dict[str, float]) -> VideoScore:
    stem_dir = options.out / Path(job.rel).parent
    stem = Path(job.rel).name
    info = item.info
    truth, truth_file = _truth(options, strip_extension(Path(job.video).name), info.frames, info)
    overlay = OverlaySource(Path(job.video), info.fps if info.source_fps else None) if options.overlay else None
    return write_video_outputs(stem_dir, stem, scores, n_frames=info.frames, fps=info.fps, config=run.config,
                               options=options.intervals, source=str(job.video), model_dir=str(run.path),
                               metadata=info.to_record(), truth=truth, truth_file=truth_file, engine=session.engine,
                               precision=session.precision, int8_check=session.int8_check, timings_s=timings,
                               overlay=overlay)
