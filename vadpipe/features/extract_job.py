"""`vadpipe extract` as a batch job: inputs, resume, shards (``--shard`` / torchrun), index and summary.

Each video goes through :func:`vadpipe.features.extract.extract_videos`; this module decides
which videos to do (a finished output with the same settings is skipped), writes each
one's features atomically with its index record, records failures without stopping, and
merges the shards' index parts into ``index.jsonl``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from vadpipe.backbones.preprocess import LEGACY_CROP_ORDER, resolve_crop_order
from vadpipe.backbones.registry import get_spec
from vadpipe.engines import ENGINES, resolve_engine
from vadpipe.engines.runtimes import ENGINE_PACKAGES
from vadpipe.engines.runtimes import require as require_engine
from vadpipe.errors import UsageError
from vadpipe.features import layouts
from vadpipe.features.extract import DEFAULT_BACKBONE, DTYPES, default_workers, extract_videos
from vadpipe.features.precision import PRECISIONS, resolve_precision
from vadpipe.features.store import append_index, index_part_name, lock_index_part, merge_index_parts, read_index_view
from vadpipe.video.inputs import VideoJob, collect_videos
from vadpipe.video.snippets import TAIL_POLICIES


@dataclass(frozen=True)
class ExtractSettings:
    """What decides a video's features; an output made with other settings is redone, not reused."""

    backbone: str
    crops: int
    tail: str = "pad"
    dtype: str = "float32"
    layout: str = "vadpipe"
    fps: float | None = None
    resize_short: int | None = None
    crop_size: int | None = None
    crop_order: str | None = None  # None: the default order for `crops` (vadpipe.backbones.preprocess)
    resize_mode: str | None = None  # None: the backbone's own

    def record_fields(self) -> dict:
        """The settings as written into every index record (unset sizes left out)."""
        rec = {"backbone": self.backbone, "crops": self.crops, "tail": self.tail, "dtype": self.dtype,
               "layout": self.layout, "crop_order": resolve_crop_order(self.crops, self.crop_order),
               "resize_mode": self.resize_mode or get_spec(self.backbone).preprocessing.resize_mode}
        for key, value in (("resample_fps", self.fps), ("resize_short", self.resize_short),
                           ("crop_size", self.crop_size)):
            if value is not None:
                rec[key] = value
        return rec

    def made(self, record: dict, *, allow_random: bool) -> bool:
        """Whether an ``ok`` record was made with these settings (a random-init one only counts when allowed)."""
        mine = self.record_fields()
        # Records written before crop_order / resize_mode were recorded: the values of that time.
        legacy = {"crop_order": LEGACY_CROP_ORDER.get(record.get("crops")), "resize_mode": "short_side"}
        theirs = {"dtype": "float32", "layout": "vadpipe", **legacy, **{k: record.get(k) for k in record}}
        same = all(theirs.get(k) == v for k, v in mine.items()) and all(
            theirs.get(k) is None for k in ("resample_fps", "resize_short", "crop_size") if k not in mine
        )
        return record.get("status") == "ok" and same and (allow_random or not record.get("random_init"))


class ExtractObserver:
    """Hooks for progress display; every method is optional (the CLI draws Rich bars with them)."""

    def planned(self, todo: int, skipped: int, failed: int) -> None: ...
    def video_started(self, job: VideoJob, snippets: int) -> None: ...
    def snippets_done(self, n: int) -> None: ...
    def video_finished(self, job: VideoJob, record: dict) -> None: ...
    def note(self, message: str) -> None: ...


@dataclass
class ExtractSummary:
    """What a run did, for the summary table and ``--json``."""

    out: Path
    settings: ExtractSettings
    shard: tuple[int, int]
    videos: int = 0
    done: int = 0
    skipped: int = 0
    failures: list[dict] = field(default_factory=list)  # {"video", "error"}
    snippets: int = 0
    seconds: float = 0.0
    random_init: bool = False
    precision: str | None = None  # of the forward passes; None when nothing was extracted
    engine: str | None = None  # what ran them (vadpipe.engines); None when nothing was extracted
    list_file: Path | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_json(self) -> dict:
        return {
            "out": str(self.out), **self.settings.record_fields(), "random_init": self.random_init,
            "precision": self.precision, "engine": self.engine,
            "shard": f"{self.shard[0]}/{self.shard[1]}", "videos": self.videos, "done": self.done,
            "skipped": self.skipped, "failed": self.failed, "snippets": self.snippets,
            "seconds": round(self.seconds, 3),
            "snippets_per_s": round(self.snippets / self.seconds, 3) if self.seconds > 0 else None,
            "index": str(self.out / "index.jsonl"), "list": str(self.list_file) if self.list_file else None,
            "failures": self.failures,
        }


def parse_shard(text: str | None) -> tuple[int, int]:
    """``i/n`` (0 <= i < n) from ``--shard``, else ``RANK``/``WORLD_SIZE`` (torchrun), else ``0/1``."""
    if text is None:
        rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
        text = f"{rank}/{world}" if rank is not None and world is not None else "0/1"
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard {text!r}: expected i/n, e.g. 0/4 for the first of four shards") from None
    if not 0 <= i < n:
        raise UsageError(f"--shard {text}: need 0 <= i < n (shards are numbered from 0, like RANK)")
    return i, n


def default_crops(layout: str, backbone: str) -> int:
    """10 for RTFM (and the 2048-d backbones), 5 for XD-Violence (and the 1024-d Inception I3D)."""
    if layout != "vadpipe":
        return 10 if layout == "rtfm" else 5
    return 5 if backbone == "inception_i3d" else 10


def default_tail(layout: str) -> str:
    """``drop`` for the XD-Violence layout (its public features drop the last partial snippet), else ``pad``."""
    return "drop" if layout == "xd" else "pad"


def _labels(csv_path: Path | None) -> dict[str, int]:
    if csv_path is None:
        return {}
    from vadpipe.features.formats import _read_labels_csv  # the same CSV `vadpipe train --labels` reads

    return _read_labels_csv(Path(csv_path))


def _label_of(job: VideoJob, labels: dict[str, int]) -> int | None:
    for key in (job.id, job.video.name, job.video.stem, job.rel):
        if key in labels:
            return labels[key]
    return job.folder_label


def run_extract(
    inputs: list[str | Path],
    out: str | Path,
    *,
    backbone_name: str = DEFAULT_BACKBONE,
    crops: int | None = None,
    tail: str | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    dtype: str = "float32",
    layout: str = "vadpipe",
    overwrite: bool = False,
    shard: str | None = None,
    weights: str | Path | None = None,
    random_init: bool = False,
    fps: float | None = None,
    resize_short: int | None = None,
    crop_size: int | None = None,
    labels: str | Path | None = None,
    workers: int | None = None,
    precision: str = "auto",
    channels_last: bool | None = None,
    compile: bool = False,
    engine: str = "torch",
    observer: ExtractObserver | None = None,
) -> ExtractSummary:
    """Extract features of every video named by ``inputs`` into ``out`` (the `vadpipe extract` command).

    Resumable: a video whose index record is ``ok`` for the same settings and whose files
    have the recorded shape is skipped. Every file is written atomically and its index
    record appended only after, so a run killed at any moment and run again ends with the
    same files as an uninterrupted one. ``precision``, ``channels_last``, ``compile`` and
    ``engine`` shape the forward pass (see :func:`extract_videos`); the precision and engine
    used are recorded in each ``ok`` record, but none of the four decides resuming. Shard ``i/n`` takes every n-th of
    the sorted videos, from ``i``, and appends to its own index part; parts are merged into
    ``index.jsonl`` (one record per id, sorted by id) at the end.

    Returns:
        The run's :class:`ExtractSummary`; ``failures`` lists the videos that failed.

    Raises:
        UsageError: bad options or inputs. VadpipeError: the backbone's weights are missing.
    """
    from vadpipe.backbones.registry import build_backbone, get_spec
    from vadpipe.devices import resolve_device

    observer = observer or ExtractObserver()
    out = Path(out)
    spec = get_spec(backbone_name)
    if layout not in layouts.LAYOUTS:
        raise UsageError(f"--layout {layout!r}: choose one of {', '.join(layouts.LAYOUTS)}")
    tail = tail or default_tail(layout)
    if tail not in TAIL_POLICIES:
        raise UsageError(f"--tail {tail!r}: choose pad or drop")
    if dtype not in DTYPES:
        raise UsageError(f"--dtype {dtype!r}: choose float32 or float16")
    crops = crops or default_crops(layout, backbone_name)
    if crops not in (1, 5, 10):
        raise UsageError(f"--crops {crops}: choose 1, 5 or 10")
    if fps is not None and not fps > 0:
        raise UsageError(f"--fps {fps}: must be positive")
    if precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if engine not in ENGINES:
        raise UsageError(f"--engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine in ENGINE_PACKAGES:
        require_engine(engine)  # before any work: one line naming the pip command
    settings = ExtractSettings(backbone_name, crops, tail, dtype, layout, fps, resize_short, crop_size)
    shard_i, shard_n = parse_shard(shard)
    label_map = _labels(labels)
    jobs = collect_videos(inputs)[shard_i::shard_n]
    summary = ExtractSummary(out=out, settings=settings, shard=(shard_i, shard_n), videos=len(jobs))
    part = index_part_name(shard_i, shard_n)
    handle = lock_index_part(out, shard_i, shard_n)
    try:
        done_before = read_index_view(out)
        todo: list[VideoJob] = []
        for job in jobs:
            rec = done_before.get(job.id)
            if job.problem is not None:
                _record_failure(out, part, job, settings, job.problem, label_map, summary, observer)
            elif (not overwrite and rec is not None and settings.made(rec, allow_random=random_init)
                  and layouts.outputs_complete(out, layout, rec, dtype)):
                summary.skipped += 1
            else:
                todo.append(job)
        observer.planned(len(todo), summary.skipped, summary.failed)
        if todo:
            torch_device = resolve_device(device)
            backbone = build_backbone(backbone_name, weights=weights, allow_random=random_init, device=torch_device)
            summary.random_init = bool(getattr(backbone, "random_init", False))
            if summary.random_init:
                observer.note(f"{backbone_name}: no weights found, using a RANDOM-INIT backbone as asked "
                              "(--random-init); its features are for tests and timing only")
            summary.precision = resolve_precision(precision, torch_device)
            summary.engine = resolve_engine(engine, torch_device, precision=summary.precision, compile=compile,
                                            channels_last=channels_last)
            if summary.engine != "torch":
                from vadpipe.engines.backbone import export_pending

                note = export_pending(backbone, summary.engine, crop_size or spec.preprocessing.crop_size)
                if note:
                    observer.note(note)
            _extract_jobs(todo, backbone, spec.feature_dim, settings, torch_device, out, part, label_map,
                          summary, observer, batch_size=batch_size, channels_last=channels_last, compile=compile,
                          workers=workers or default_workers(torch_device))
    finally:
        handle.close()
    merged = merge_index_parts(out)
    summary.list_file = layouts.write_list(out, layout, merged)
    return summary


def _extract_jobs(todo, backbone, dim, settings, device, out, part, label_map, summary, observer, *,
                  batch_size, channels_last, compile, workers) -> None:
    by_path = {job.video: job for job in todo}
    started = time.perf_counter()

    def counted(n: int) -> None:
        summary.snippets += n
        observer.snippets_done(n)

    results = extract_videos(
        [job.video for job in todo], backbone, crops=settings.crops, tail=settings.tail, batch_size=batch_size,
        device=device, dtype=settings.dtype, fps=settings.fps, resize_short=settings.resize_short,
        crop_size=settings.crop_size, crop_order=settings.crop_order, resize_mode=settings.resize_mode,
        precision=summary.precision, channels_last=channels_last, compile=compile,
        engine=summary.engine, workers=workers,
        on_start=lambda path, n: observer.video_started(by_path[path], n), on_snippets=counted,
    )
    for result in results:
        job = by_path[result.path]
        if result.error is not None:
            _record_failure(out, part, job, settings, str(result.error), label_map, summary, observer)
            continue
        feats = result.features  # (T, C, D)
        if feats.shape[2] != dim:
            raise RuntimeError(f"{settings.backbone} gave {feats.shape[2]}-d features, its spec says {dim}")
        files = layouts.write_features(out, settings.layout, job.rel, feats)
        info = result.info
        record = {
            "video": str(job.video), "id": job.id, "features": files[0],
            **({"files": files} if len(files) > 1 else {}),
            "frames": info.frames, "fps": round(info.fps, 6), "snippets": feats.shape[0],
            "crops": feats.shape[1], "dim": feats.shape[2], **settings.record_fields(),
            "precision": summary.precision, "engine": summary.engine, "status": "ok",
            **_label_field(job, label_map), **({"random_init": True} if summary.random_init else {}),
            "video_info": info.to_record(),
        }
        append_index(out, record, part)
        summary.done += 1
        observer.video_finished(job, record)
    summary.seconds += time.perf_counter() - started


def _label_field(job: VideoJob, label_map: dict[str, int]) -> dict:
    label = _label_of(job, label_map)
    return {} if label is None else {"label": label}


def _record_failure(out, part, job, settings, error, label_map, summary, observer) -> None:
    record = {
        "video": str(job.video), "id": job.id,
        "features": layouts.feature_files(settings.layout, job.rel, settings.crops)[0],
        **settings.record_fields(), "status": "failed", "error": error, **_label_field(job, label_map),
    }
    append_index(out, record, part)
    summary.failures.append({"video": str(job.video), "error": error})
    observer.video_finished(job, record)
