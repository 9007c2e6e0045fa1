"""Reading feature sets in vadpipe's own layout and in the public layouts other projects use.

A feature set is a list of :class:`FeatureVideo`, each with one or more crops:

- vadpipe store: a folder with ``index.jsonl``; each ``.npy`` is (T, C, D).
- RTFM UCF-Crime list: lines naming ``<name>_i3d.npy`` files, each (T, 10, 2048).
- XD-Violence list: lines naming ``<name>__0.npy`` … ``__4.npy``, each (T, 1024), ``__0`` the centre.
- ten-crop list: ``<name>.npy`` (centre) and ``<name>__1.npy`` … ``__9.npy``, each (T, D).
- a plain folder of ``.npy`` files in any of those layouts (grouped by name).

Labels come, in this order, from a ``video,label`` CSV, the store index, ``abnormal_first``
(the first N lines of a list are abnormal, RTFM style), a parent folder called
``normal``/``abnormal``, or the public naming conventions (XD: ``_label_A`` is normal;
UCF-Crime: ``Normal_Videos…`` is normal, the 13 crime classes are abnormal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from vadpipe.errors import InputError
from vadpipe.features.record import IndexRecord
from vadpipe.features.store import INDEX_NAME, check_finite, open_features, read_index
from vadpipe.textfile import text_lines
from vadpipe.video.labels import folder_label, read_labels_csv
from vadpipe.video.snippets import frame_count, frames_fit

UCF_ANOMALY_CLASSES = (
    "Abuse", "Arrest", "Arson", "Assault", "Burglary", "Explosion", "Fighting", "RoadAccidents",
    "Robbery", "Shooting", "Shoplifting", "Stealing", "Vandalism",
)
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")  # a Windows drive: C:\ or C:/
_CROP_FILE = re.compile(r"^(?P<base>.+?)(?:__(?P<crop>\d+))?\.npy$")


class DimensionMismatch(InputError):
    """A feature file of another width than the model's (``file``, ``dim``, ``expected``)."""

    ADVICE = "use features of the backbone the model was trained on (or train a run on these features)"
    MIXED_ADVICE = "one model takes one width: leave out the files of another backbone"

    def __init__(self, file: Path, dim: int, expected: int, whose: str = "the model expects"):
        self.file, self.dim, self.expected, self.whose = file, dim, expected, whose
        self.advice = self.ADVICE if whose == "the model expects" else self.MIXED_ADVICE
        super().__init__(f"{file}: features are {dim}-d but {whose} {expected}-d; {self.advice}")


@dataclass
class FeatureVideo:
    """One video's features, possibly spread over one file per crop."""

    id: str  # e.g. "Abuse001_x264"
    files: list[Path]  # one (T, C, D) / (T, D) file, or one (T, D) file per crop, crop order
    label: int | None = None
    frames: int | None = None  # decoded frame count N when known (vadpipe stores)
    fps: float | None = None
    record: IndexRecord | None = None  # the store's index record, when there is one

    def open(self) -> list[np.ndarray]:
        """Memory-mapped crops, each (T, D)."""
        arrays = [open_features(f) for f in self.files]
        if len(arrays) == 1 and arrays[0].ndim == 3:
            return [arrays[0][:, c] for c in range(arrays[0].shape[1])]
        for f, a in zip(self.files, arrays, strict=True):
            if a.ndim != 2:
                raise InputError(f"{f}: one-file-per-crop features must be (T, D), found {a.shape}")
        return arrays

    def validate(self, expected_dim: int | None = None) -> tuple[int, int, int]:
        """Check every crop is finite and of one shape; returns (T, C, D).

        Raises:
            InputError: naming the file and the problem.
        """
        crops = self.open()
        t, d = crops[0].shape
        files = self.files if len(self.files) == len(crops) else self.files * len(crops)
        for f, a in zip(files, crops, strict=True):
            if a.shape != (t, d):
                raise InputError(f"{f}: crop shape {a.shape} differs from {(t, d)} of the other crops")
            check_finite(f, a)
        if expected_dim is not None and d != expected_dim:
            raise DimensionMismatch(self.files[0], d, expected_dim)
        if self.frames is not None and not frames_fit(t, self.frames):
            raise InputError(f"{self.files[0]}: its index records {self.frames} frames, which cannot make its {t} "
                             "snippets; re-extract the video, or fix or delete its index line")
        return t, len(crops), d

    def frame_count(self) -> int:
        """N: the frame count the store recorded, else 16·T (reads T from the file)."""
        if self.frames:
            return int(self.frames)
        return frame_count(self.open()[0].shape[0])

    def load(self) -> np.ndarray:
        """All crops in memory as float32 (T, C, D)."""
        return np.stack([np.asarray(c, dtype=np.float32) for c in self.open()], axis=1)


def load_feature_set(
    source: str | Path,
    *,
    labels_csv: str | Path | None = None,
    abnormal_first: int | None = None,
    features_root: str | Path | None = None,
    extraction_failures: list[IndexRecord] | None = None,
) -> tuple[list[FeatureVideo], list[str]]:
    """Read a feature set from a store folder, a list file or a folder of ``.npy`` files.

    Args:
        source: the folder or list file.
        labels_csv: optional ``video,label`` CSV (label 0/1 or normal/abnormal).
        abnormal_first: the first N lines of a list file are abnormal (RTFM lists: 810 / 140).
        features_root: folder to look in when a list names paths that do not exist here
            (public lists carry their authors' absolute paths).
        extraction_failures: when given, a store's ``failed`` records (videos whose extraction
            failed: not inputs of this command) are appended here instead of to ``problems``.
    Returns:
        (videos, problems): ``problems`` holds one line per input that was skipped.
    """
    source = Path(source)
    problems: list[str] = []
    if source.is_dir() and (source / INDEX_NAME).is_file():
        videos = _from_store(source, problems, extraction_failures)
    elif source.is_dir():
        videos = _group_files(sorted(source.rglob("*.npy")), None)
        if not videos:
            raise InputError(f"{source}: no .npy feature files in this folder; run `vadpipe extract` first")
    elif source.is_file():
        videos = _from_list(source, abnormal_first, features_root, problems)
    else:
        raise InputError(f"{source}: no such feature folder or list file")
    overrides = read_labels_csv(labels_csv) if labels_csv else {}
    for v in videos:
        label = overrides.get(v.id, overrides.get(v.files[0].stem))
        if label is None:
            label = v.label if v.label is not None else infer_label(v.id, v.files[0])
        v.label = label
    return videos, problems


def record_of_feature_file(npy: str | Path) -> IndexRecord | None:
    """The index record of a feature file inside a vadpipe store (the nearest ``index.jsonl`` above it)."""
    npy = Path(npy)
    for folder in [npy.parent, *npy.parents]:
        if (folder / INDEX_NAME).is_file():
            rel = npy.resolve().relative_to(folder.resolve()).as_posix()
            for rec in read_index(folder):  # another video's bad line is not this file's problem
                names = rec.get("files") if isinstance(rec.get("files"), list) else [rec.get("features")]
                if rel in names or rel == rec.get("features"):
                    return IndexRecord.from_json(rec, str(folder / INDEX_NAME))  # InputError when it is bad
            return None
    return None


def infer_label(video_id: str, path: Path | None = None) -> int | None:
    """Label from the public naming conventions or a ``normal``/``abnormal`` parent folder."""
    label = folder_label(path.parent.parts) if path is not None else None
    if label is not None:
        return label
    if "_label_" in video_id:
        return 0 if "_label_A" in video_id else 1  # XD-Violence
    if video_id.lower().startswith("normal"):
        return 0  # UCF-Crime Normal_Videos...
    if video_id.startswith(UCF_ANOMALY_CLASSES):
        return 1
    return None


def _from_store(store: Path, problems: list[str], failures: list[IndexRecord] | None) -> list[FeatureVideo]:
    videos = []
    for line in read_index(store):
        try:
            rec = IndexRecord.from_json(line, str(store / INDEX_NAME))
        except InputError as exc:  # a hand-edited or corrupted line: that video is left out, the rest go on
            problems.append(str(exc))
            continue
        if not rec.ok:
            if failures is not None:
                failures.append(rec)
            else:
                problems.append(f"{rec.video}: extraction failed ({rec.error or '?'}); skipped")
            continue
        videos.append(FeatureVideo(
            id=rec.id,
            files=[store / name for name in rec.feature_files],  # xd: one file per crop
            label=None if rec.label is None else int(rec.label),
            frames=rec.frames,
            fps=rec.fps,
            record=rec,
        ))
    return videos


def _is_windows_path(line: str) -> bool:
    return "\\" in line or bool(_DRIVE.match(line))


def list_entry_name(line: str) -> str:
    """The file name a list line ends with, for POSIX and Windows paths alike (RTFM's lists hold ``G:\\...``)."""
    return PureWindowsPath(line).name if _is_windows_path(line) else PurePosixPath(line).name


def _resolve(line: str, list_dir: Path, root: Path | None) -> Path | None:
    name = list_entry_name(line)
    windows = _is_windows_path(line)  # never a path on this machine: only its name is looked up
    path = Path(line)
    candidates = [] if windows else [path, list_dir / path]
    if root is not None:
        candidates += [root / name] + ([] if windows else [root / path])
    candidates.append(list_dir / name)
    return next((c for c in candidates if c.is_file()), None)


def read_list_lines(list_file: Path) -> list[str]:
    """The non-blank lines of a public list file, as published: BOM, CRLF and trailing blanks allowed."""
    lines = text_lines(list_file, "a list of feature files (one .npy path per line)")  # any encoding
    return [ln.strip() for ln in lines if ln.strip()]


def _from_list(list_file: Path, abnormal_first, root, problems) -> list[FeatureVideo]:
    lines = read_list_lines(list_file)
    if not lines:
        raise InputError(f"{list_file}: the list is empty")
    root = Path(root) if root else None
    resolved, abnormal_ids = [], set()
    for i, line in enumerate(lines):
        path = _resolve(line, list_file.parent, root)
        name = list_entry_name(line)
        if path is None:
            problems.append(f"{list_file}:{i + 1}: {line} not found; fix the path or pass --features-root DIR")
            continue
        resolved.append(path)
        if abnormal_first is not None and i < abnormal_first:
            abnormal_ids.add(video_id_of_file(name))
    videos = _group_files(resolved, list_file)
    if abnormal_first is not None:
        for v in videos:
            v.label = 1 if v.id in abnormal_ids else 0
    return videos


def video_id_of_file(file_name: str) -> str:
    """The video id of a feature file name: without `.npy`, a `__N` crop suffix or `_i3d` (`Abuse028_x264_i3d.npy`
    -> `Abuse028_x264`)."""
    m = _CROP_FILE.match(file_name)
    base = m.group("base") if m else Path(file_name).stem
    return base[: -len("_i3d")] if base.endswith("_i3d") else base


def _group_files(paths: list[Path], origin: Path | None) -> list[FeatureVideo]:
    """Group per-crop files (``X.npy``, ``X__1.npy`` … or ``X__0.npy`` …) into videos, in first-seen order."""
    groups: dict[tuple[Path, str], dict[int, Path]] = {}
    for p in paths:
        m = _CROP_FILE.match(p.name)
        crop = int(m.group("crop")) if m and m.group("crop") is not None else 0
        groups.setdefault((p.parent, video_id_of_file(p.name)), {})[crop] = p
    return [FeatureVideo(id=vid, files=[crops[c] for c in sorted(crops)]) for (_, vid), crops in groups.items()]
