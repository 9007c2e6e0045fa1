"""`vadpipe extract` as a batch job: inputs, resume, shards (``--shard`` / torchrun), index and summary.

Each video goes through :func:`vadpipe.features.extract.extract_videos`; this module decides
which videos to do (a finished output with the same feature spec, layout and source video is skipped), writes each
one's features atomically with its index record, records failures without stopping, and
merges the shards' index parts into ``index.jsonl``.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.core.forward import ForwardOptions
from vadpipe.errors import InputError, UsageError, disk_error_line
from vadpipe.features import layouts
from vadpipe.features.extract import check_batch_size, extract_videos
from vadpipe.features.record import FAILED, IndexRecord
from vadpipe.features.store import append_index, index_part_name, lock_index_part, merge_index_parts, read_index_view
from vadpipe.observers import Observer
from vadpipe.session.backbone import BackboneSession, open_session, resolve_forward
from vadpipe.video.inputs import VideoJob, collect_videos
from vadpipe.video.labels import read_labels_csv
from vadpipe.video.source import source_change, source_identity


@dataclass
class ExtractSummary:
    """What a run did, for the summary table and ``--json``."""

    out: Path
    spec: FeatureSpec  # random_init as built when anything was extracted, else as asked (--random-init)
    layout: str
    shard: tuple[int, int]
    videos: int = 0
    done: int = 0
    skipped: int = 0
    changed: int = 0  # videos done before from another or a since-modified source, extracted again
    failures: list[dict] = field(default_factory=list)  # {"video", "error"}
    snippets: int = 0
    seconds: float = 0.0
    precision: str | None = None  # of the forward passes; None when nothing was extracted
    int8_check: dict | None = None  # precision int8: how its features matched fp32 (vadpipe.session.int8)
    engine: str | None = None  # what ran them (vadpipe.engines); None when nothing was extracted
    list_file: Path | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)

    def to_json(self) -> dict:
        return {
            "out": str(self.out), **self.spec.record_fields(), "layout": self.layout, "precision": self.precision,
            "engine": self.engine, "int8_check": self.int8_check,
            "shard": f"{self.shard[0]}/{self.shard[1]}", "videos": self.videos, "done": self.done,
            "skipped": self.skipped, "changed": self.changed, "failed": self.failed, "snippets": self.snippets,
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
    except ValueError as exc:
        raise UsageError(f"shard {text!r}: expected i/n, e.g. 0/4 for the first of four shards",
                         param="shard") from exc
    if not 0 <= i < n:
        raise UsageError(f"shard {text}: need 0 <= i < n (shards are numbered from 0, like RANK)", param="shard")
    return i, n


def _labels(csv_path: Path | None) -> dict[str, int]:
    return read_labels_csv(csv_path) if csv_path is not None else {}


def _label_of(job: VideoJob, labels: dict[str, int]) -> int | None:
    for key in (job.id, job.video.name, job.video.stem, job.rel):
        if key in labels:
            return labels[key]
    return job.folder_label


def run_extract(
    inputs: list[str | Path],
    out: str | Path,
    spec: FeatureSpec,
    *,
    layout: str = layouts.DEFAULT_LAYOUT,
    options: ForwardOptions = ForwardOptions(),
    weights: str | Path | None = None,
    allow_random: bool = False,
    labels: str | Path | None = None,
    overwrite: bool = False,
    shard: str | None = None,
    observer: Observer | None = None,
) -> ExtractSummary:
    """Extract features of every video named by ``inputs`` into ``out`` (the `vadpipe extract` command).

    Args:
        spec: what the features are (:meth:`FeatureSpec.resolve`); written into every record.
        layout: file layout (:mod:`vadpipe.features.layouts`).
        options: how the forward passes run; the precision used is recorded, but none of them decides resuming,
            except int8: its features are recorded as such in the spec (``int8``), never mixed with fp32 ones.
            int8 is calibrated on all of ``inputs`` (every shard alike) unless ``options.calibrate`` names
            videos; when its check refuses it, the run goes on in fp32 and its records say so.
        weights: backbone checkpoint file or registry name (None: the cached default).
        allow_random: build a random-init backbone when no weights are cached (recorded in the spec).
        labels: ``video,label`` CSV recorded in the index.
        overwrite: extract again even videos already done.
        shard: ``i/n`` (None: ``RANK``/``WORLD_SIZE`` under torchrun, else ``0/1``).

    Resumable: a video whose index record is ``ok`` for the same spec and layout, whose files
    have the recorded shape and whose recorded ``source`` is the same file (path, size, mtime,
    fingerprint: :mod:`vadpipe.video.source`) is skipped; one done from another or a since-changed
    source is extracted again, noted and counted as ``changed``. Every file is written atomically and its index record
    appended only after, so a run killed at any moment and run again ends with the same files as
    an uninterrupted one. Shard ``i/n`` takes every n-th of the sorted videos, from ``i``, and
    appends to its own index part; parts are merged into ``index.jsonl`` (one record per id,
    sorted by id) at the end.

    Returns:
        The run's :class:`ExtractSummary`; ``failures`` lists the videos that failed.

    Raises:
        UsageError: bad options or inputs (``param`` names the setting). VadpipeError: the backbone's
        weights are missing.
    """
    observer = observer or Observer()
    out = Path(out)
    spec.checked()
    layouts.check_layout(layout)
    # Before any work: an unknown, missing (the line names the pip command) or conflicting engine.
    forward = resolve_forward(options)
    spec = dataclasses.replace(spec, int8=forward.precision == "int8")  # as asked, until the check has spoken
    shard_i, shard_n = parse_shard(shard)
    label_map = _labels(labels)
    all_jobs = collect_videos(inputs)
    jobs = all_jobs[shard_i::shard_n]
    summary = ExtractSummary(out=out, spec=dataclasses.replace(spec, random_init=allow_random), layout=layout,
                             shard=(shard_i, shard_n), videos=len(jobs))  # random_init as asked, until built
    writer = _RecordWriter(out, index_part_name(shard_i, shard_n), label_map, summary, observer)
    handle = lock_index_part(out, shard_i, shard_n)
    try:
        done_before = read_index_view(out)
        todo: list[VideoJob] = []
        for job in jobs:
            rec = done_before.get(job.id)
            try:
                rec = IndexRecord.from_json(rec) if rec is not None else None
            except InputError:  # a corrupted line: the video is not done; extracted again, a new line supersedes it
                rec = None
            if job.problem is not None:
                writer.failed(job, job.problem)
                continue
            job.source = source_identity(job.video)
            if (not overwrite and rec is not None and rec.made_with(spec, layout, allow_random=allow_random)
                    and layouts.outputs_complete(out, rec)):
                change = source_change(rec.source, job.source)
                if change is None:
                    summary.skipped += 1
                    continue
                summary.changed += 1
                observer.note(f"{job.video}: extracting again; the features in {out} for {job.id} are stale "
                              f"({change})")
            todo.append(job)
        observer.planned(len(todo), skipped=summary.skipped, failed=summary.failed)
        if todo:
            if options.batch_size:
                check_batch_size(options.batch_size, spec)  # before the backbone is built
            session = open_session(spec, forward, weights=weights, allow_random=allow_random, observer=observer,
                                   calibration=[job.video for job in all_jobs if job.problem is None])
            summary.spec = writer.spec = session.spec  # random_init as built, int8 as its check decided
            summary.precision, summary.engine = session.precision, session.engine
            summary.int8_check = session.int8_check
            _extract_jobs(todo, session, writer)
    finally:
        handle.close()
    merged = []
    for line in merge_index_parts(out):
        try:
            merged.append(IndexRecord.from_json(line, str(out / "index.jsonl")))
        except InputError as exc:  # another run's corrupted line: not in the list file, said once
            observer.warning(str(exc))
    summary.list_file = layouts.write_list(out, layout, merged)
    return summary


class _RecordWriter:
    """Appends each video's record to this shard's index part and keeps the summary's counts."""

    def __init__(self, out: Path, part: str, label_map: dict[str, int], summary: ExtractSummary,
                 observer: Observer):
        self.out, self.part, self.label_map, self.summary, self.observer = out, part, label_map, summary, observer
        self.spec = summary.spec

    def _append(self, job: VideoJob, record: IndexRecord) -> None:
        record.label = _label_of(job, self.label_map)
        append_index(self.out, record.to_json(), self.part)
        self.observer.finished(job, record)

    def failed(self, job: VideoJob, error: str) -> None:
        files = layouts.feature_files(self.summary.layout, job.rel, self.spec.crops)
        record = IndexRecord(video=str(job.video), id=job.id, features=files[0], spec=self.spec,
                             layout=self.summary.layout, status=FAILED, error=error)
        self.summary.failures.append({"video": str(job.video), "error": error})
        if job.missing:  # a mistyped path: said now, but kept out of the index (it would haunt every train run)
            self.observer.finished(job, record)
            return
        self._append(job, record)

    def done(self, job: VideoJob, feats, info) -> None:
        try:
            files = layouts.write_features(self.out, self.summary.layout, job.rel, feats)  # feats: (T, C, D)
        except OSError as exc:
            if errno.errorcode.get(exc.errno) != "ENAMETOOLONG":
                raise  # a full or read-only disk fails every video alike: one line for the run (the CLI's)
            self.failed(job, disk_error_line(exc, f"cannot write the features of {job.video}"))
            return
        self._append(job, IndexRecord(
            video=str(job.video), id=job.id, features=files[0], files=files if len(files) > 1 else None,
            spec=self.spec, layout=self.summary.layout, frames=info.frames, fps=round(info.fps, 6),
            snippets=feats.shape[0], dim=feats.shape[2], precision=self.summary.precision,
            video_info=info.to_record(), source=job.source,
            extra={"engine": self.summary.engine,
                   **({"int8_check": self.summary.int8_check} if self.summary.int8_check else {})},
        ))
        self.summary.done += 1
        self.summary.snippets += feats.shape[0]  # only videos that succeed count


def _extract_jobs(todo: list[VideoJob], session: BackboneSession, writer: _RecordWriter) -> None:
    by_path = {job.video: job for job in todo}
    summary, observer = writer.summary, writer.observer
    started = time.perf_counter()
    results = extract_videos([job.video for job in todo], session,
                             observer=_ByJob(observer, by_path))  # the progress bar's count, failed videos too
    for result in results:
        job = by_path[result.path]
        if result.error is not None:
            writer.failed(job, str(result.error))
            continue
        if result.features.shape[2] != session.feature_dim:
            raise RuntimeError(f"{session.spec.backbone} gave {result.features.shape[2]}-d features, its spec says "
                               f"{session.feature_dim}")
        writer.done(job, result.features, result.info)
    summary.seconds += time.perf_counter() - started


class _ByJob(Observer):
    """Passes extraction progress on to the job's observer, naming each video by its job rather than its path."""

    def __init__(self, observer: Observer, by_path: dict):
        self.observer, self.by_path = observer, by_path

    def started(self, item, size=None) -> None:
        self.observer.started(self.by_path[item], size)

    def advanced(self, units: int) -> None:
        self.observer.advanced(units)
