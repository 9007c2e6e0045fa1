"""One line of ``index.jsonl``: the schema of the feature store, in one place.

A record is the video (``video``, ``id``, ``label``), where its features are (``features``,
and ``files`` when there is one file per crop; ``layout``), what they are (``frames`` N,
``fps``, ``snippets`` T, ``crops`` C, ``dim`` D, and every field of the
:class:`~vadpipe.core.feature_spec.FeatureSpec` they were made with), how the forward pass
ran (``precision``, and whatever else a later version adds: kept, not decisive), which
file they came from (``source``: resolved path, size, mtime and fingerprint, see
:mod:`vadpipe.video.source`; resume reuses features only for the same source), and
whether it worked (``status`` ``ok`` / ``failed`` with ``error``). Keys this version does
not know are carried through untouched (``extra``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.errors import InputError
from vadpipe.video.labels import LABEL_WORDS
from vadpipe.video.snippets import frame_count

OK, FAILED = "ok", "failed"
MAX_FPS = 1e6  # frames per second past any camera: a corrupted value
MAX_FRAMES = 2**40  # frames of one video: past this, a corrupted value (a year at 30 000 fps)
_COUNTS = {"frames": MAX_FRAMES, "snippets": MAX_FRAMES, "dim": 2**20}  # whole numbers >= 1 up to these
DEFAULT_LAYOUT = "vadpipe"


@dataclass
class IndexRecord:
    """One video of a feature store (see the module docstring for the keys)."""

    video: str
    id: str
    features: str  # the first (or only) feature file, relative to the store, "/"-separated
    spec: FeatureSpec | None  # None: the record names no backbone (features made elsewhere)
    status: str = OK
    layout: str = DEFAULT_LAYOUT
    files: list[str] | None = None  # one file per crop (xd layout)
    frames: int | None = None  # N decoded (after resampling)
    fps: float | None = None
    snippets: int | None = None  # T
    dim: int | None = None  # D
    label: int | None = None
    error: str | None = None
    precision: str | None = None
    video_info: dict | None = None
    source: dict | None = None  # vadpipe.video.source.source_identity of the video the features came from
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as they were

    _OWN = ("video", "id", "features", "status", "layout", "files", "frames", "fps", "snippets", "dim", "label",
            "error", "precision", "video_info", "source")

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def crops(self) -> int | None:
        return self.spec.crops if self.spec else self.extra.get("crops")

    @property
    def feature_files(self) -> list[str]:
        """Every feature file of the video, crop order when there is one per crop."""
        return list(self.files) if self.files else [self.features]

    @property
    def frame_count(self) -> int | None:
        """N: the recorded frame count, else 16·T."""
        return frame_count(self.snippets, self.frames) if self.snippets or self.frames else None

    def made_with(self, spec: FeatureSpec, layout: str, *, allow_random: bool) -> bool:
        """Whether this is an ``ok`` record of ``spec`` in ``layout`` (a random-init one only counts when allowed)."""
        if not self.ok or self.spec is None or self.layout != layout:
            return False
        differ = set(self.spec.differences(spec)) - {"random_init"}
        return not differ and (allow_random or not self.spec.random_init)

    def to_json(self) -> dict:
        """The JSON object of one ``index.jsonl`` line (unset optional keys left out)."""
        rec = {"video": self.video, "id": self.id, "features": self.features}
        if self.files:
            rec["files"] = list(self.files)
        for key in ("frames", "fps", "snippets"):
            if getattr(self, key) is not None:
                rec[key] = getattr(self, key)
        if self.spec is not None:
            rec["crops"] = self.spec.crops  # first, beside dim, as the store has always listed them
            if self.dim is not None:
                rec["dim"] = self.dim
            rec.update(self.spec.record_fields())
        elif self.dim is not None:
            rec["dim"] = self.dim
        rec["layout"] = self.layout
        if self.precision is not None:
            rec["precision"] = self.precision
        rec["status"] = self.status
        for key in ("error", "label", "video_info", "source"):
            if getattr(self, key) is not None:
                rec[key] = getattr(self, key)
        for key, value in self.extra.items():
            rec.setdefault(key, value)
        return rec

    @classmethod
    def from_json(cls, rec: dict, source: str = "index.jsonl") -> IndexRecord:
        """A record from one parsed ``index.jsonl`` line (old lines without the newer keys included).

        Raises:
            InputError: a value is not of its key's type or range (a hand-edited or corrupted line), naming
                ``source`` (the index file), the record's id and the key.
        """
        problem = _record_problem(rec)
        if problem:
            raise InputError(f"{source}: the record of {str(rec.get('id', '?'))!r}: {problem}; re-extract that "
                             "video, or fix or delete its line")
        rec = {**rec, "label": _label(rec.get("label")),
               **{key: int(rec[key]) for key in _COUNTS if rec.get(key) is not None}}
        spec = FeatureSpec.from_record(rec)
        spec_keys = {f.name for f in dataclasses.fields(FeatureSpec)} if spec is not None else set()
        own = {k: rec[k] for k in cls._OWN if k in rec}
        extra = {k: v for k, v in rec.items() if k not in cls._OWN and k not in spec_keys}
        return cls(
            video=str(own.pop("video", rec.get("id", ""))), id=str(own.pop("id")),
            features=str(own.pop("features", "")), spec=spec, **{k: v for k, v in own.items() if v is not None},
            extra=extra,
        )


def _whole(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        and float(value).is_integer()


def _label(value) -> int | None:
    """0 or 1 from a record's label: a number, or a label word (``abnormal``, as labels CSVs write them)."""
    if value is None:
        return None
    if isinstance(value, str):
        return LABEL_WORDS.get(value.strip().lower())
    return int(value)


def _record_problem(rec: dict) -> str | None:
    """Why a parsed ``index.jsonl`` line cannot be a record (the key and its value), or None."""
    for key in ("video", "id", "features", "status", "layout", "error", "precision"):
        value = rec.get(key)
        if value is not None and not isinstance(value, str) and not (key == "id" and _whole(value)):
            return f"{key} {value!r} must be a string"
    files = rec.get("files")
    if files is not None and (not isinstance(files, list) or not all(isinstance(f, str) for f in files)):
        return f"files {files!r} must be a list of file names"
    for key, most in _COUNTS.items():
        value = rec.get(key)
        if value is not None and not (_whole(value) and value >= 1):
            return f"{key} {value!r} must be a whole number >= 1"
        if value is not None and value > most:
            return f"{key} {value!r} is more than any video has"
    fps = rec.get("fps")
    if fps is not None and not (isinstance(fps, (int, float)) and not isinstance(fps, bool)
                                and math.isfinite(fps) and 0 < fps <= MAX_FPS):
        return f"fps {fps!r} must be a number above 0"
    label = rec.get("label")
    if label is not None and not ((isinstance(label, (int, float)) and label in (0, 1))
                                  or (isinstance(label, str) and label.strip().lower() in LABEL_WORDS)):
        return f"label {label!r} must be 0 or 1 (or normal / abnormal)"
    for key in ("video_info", "source"):
        if rec.get(key) is not None and not isinstance(rec[key], dict):
            return f"{key} {rec[key]!r} must be an object"
    return FeatureSpec.type_problem(rec)
