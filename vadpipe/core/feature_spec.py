"""The feature spec: every setting that changes a feature, in one frozen value.

A spec is resolved once (:meth:`FeatureSpec.resolve`: the backbone's defaults filled in,
every value checked), written whole into every index record (its fields are record keys,
:meth:`FeatureSpec.record_fields`), stored whole in a run's ``config.json``, read back in
one place (:meth:`FeatureSpec.from_record`) and handed whole to extraction. `vadpipe score`
on a raw video extracts with the very spec the run was trained on.

Settings that only change how fast features are made (batch size, device, precision,
workers, memory format, compile, engine) and where they are written (layout) are not part
of it, with one exception: features of the int8-quantized backbone (``int8``). bf16 stays
within 1 - cos <= 2.1e-5 of fp32 and is stored as the same feature; int8 strays ~10x further
(1 - cos up to ~2e-4 on the backbones measured, accepted down to 0.995), so a store, a resume
and a training set never mix int8 and fp32 features: they differ in this field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from vadpipe.errors import UsageError
from vadpipe.ranges import check_ranges, ranged

CROP_COUNTS = (1, 5, 10)
MAX_FPS = 1000.0  # resampling rate
MIN_SIZE, MAX_SIZE = 8, 1024  # pixels of the resized shorter side and of a crop (the backbones: 224-256)
TAIL_POLICIES = ("pad", "drop")
FEATURE_DTYPES = ("float32", "float16")
# Crop orders by name -> crop count (what each is: vadpipe.backbones.preprocess).
CROP_ORDERS = {"center": 1, "center_first": 5, "tencrop": 10, "vadpipe_v1": 10}
DEFAULT_CROP_ORDER = {1: "center", 5: "center_first", 10: "tencrop"}
LEGACY_CROP_ORDER = {1: "center", 5: "center_first", 10: "vadpipe_v1"}  # stores without a recorded order
RESIZE_MODES = ("short_side", "opencv_linear", "scale_factor")  # scale_factor: inception_i3d stores before 0.2
LEGACY_RESIZE_MODE = "short_side"  # of stores and runs made before resize_mode was recorded


def resolve_crop_order(crops: int, crop_order: str | None = None) -> str:
    """The crop order to use for ``crops`` crops (``None``: the default one), checked against the count.

    Raises:
        UsageError: (``param`` ``crop_order``) an unknown order, or one with another number of crops.
    """
    name = crop_order or DEFAULT_CROP_ORDER.get(crops)
    if name not in CROP_ORDERS:
        raise UsageError(f"crop_order {crop_order!r}: choose one of {', '.join(CROP_ORDERS)}", param="crop_order")
    if CROP_ORDERS[name] != crops:
        raise UsageError(f"crop_order {name} has {CROP_ORDERS[name]} crops, not {crops}", param="crop_order")
    return name


@dataclass(frozen=True)
class FeatureSpec:
    """What decides a video's features (field names are also the index-record keys).

    Attributes:
        backbone: registry name (:data:`vadpipe.core.backbone_facts.BACKBONES`).
        crops: 1, 5 or 10 (order in :mod:`vadpipe.backbones.preprocess`).
        tail: ``pad`` (loop the last partial snippet, T = ceil(N/16)) or ``drop`` (T = floor(N/16)).
        resample_fps: frames resampled to this rate by timestamp before snippets are cut; None: every frame.
        resize_short: the frames' shorter side is resized to this.
        crop_size: square crops of this side.
        crop_order: the order of the crop axis (:data:`CROP_ORDERS`; e.g. ``tencrop``, torchvision's TenCrop).
        resize_mode: ``short_side`` (antialiased, PIL-like) or ``opencv_linear`` (OpenCV fx=fy, exact), the
            backbone's own; ``scale_factor`` (OpenCV's geometry in float) is what older stores recorded.
        dtype: ``float32`` or ``float16`` as stored.
        random_init: the backbone had random (seeded) weights, not a checkpoint (tests, the offline demo).
        int8: made by the backbone quantized to int8 (``--precision int8``, accepted by its check against
            fp32: :mod:`vadpipe.engines.quantize`), not by the fp32/bf16 backbone.
    """

    backbone: str
    crops: int = ranged(dataclasses.MISSING, kind=int, choices=CROP_COUNTS)
    tail: str = "pad"
    resample_fps: float | None = ranged(None, min=0, min_open=True, max=MAX_FPS)
    resize_short: int | None = ranged(None, kind=int, min=MIN_SIZE, max=MAX_SIZE)
    crop_size: int | None = ranged(None, kind=int, min=MIN_SIZE, max=MAX_SIZE)
    crop_order: str | None = None
    resize_mode: str | None = None
    dtype: str = "float32"
    random_init: bool = False
    int8: bool = False

    @classmethod
    def resolve(cls, backbone: str, *, crops: int | None = None, **settings) -> FeatureSpec:
        """A checked spec with the backbone's defaults for what is not given (None).

        Raises:
            UsageError: with ``param`` naming the setting that is wrong.
        """
        from vadpipe.core.backbone_facts import get_spec

        facts = get_spec(backbone)
        given = {k: v for k, v in settings.items() if v is not None}
        unknown = set(given) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown feature settings: {', '.join(sorted(unknown))}")
        crops = crops or facts.default_crops
        spec = cls(backbone=backbone, crops=crops, **given)
        if spec.crop_order is None and crops in DEFAULT_CROP_ORDER:
            spec = dataclasses.replace(spec, crop_order=DEFAULT_CROP_ORDER[crops])
        return spec.with_defaults(resize_mode=facts.preprocessing.resize_mode).checked()

    def with_defaults(self, *, resize_mode: str = LEGACY_RESIZE_MODE) -> FeatureSpec:
        """Unset fields filled: sizes with the backbone's own, ``crop_order`` with the order of stores
        made before it was recorded (:data:`LEGACY_CROP_ORDER`) and ``resize_mode`` with ``resize_mode``.
        A record written before a field was recorded thus reads as what made it then."""
        from vadpipe.core.backbone_facts import BACKBONES

        facts = BACKBONES.get(self.backbone)
        filled = dataclasses.replace(self, crop_order=self.crop_order or LEGACY_CROP_ORDER.get(self.crops),
                                     resize_mode=self.resize_mode or resize_mode)
        if facts is None:
            return filled
        prep = facts.preprocessing
        return dataclasses.replace(filled, resize_short=self.resize_short or prep.resize_short,
                                   crop_size=self.crop_size or prep.crop_size)

    def checked(self) -> FeatureSpec:
        """This spec, once every value is known to be usable.

        Raises:
            UsageError: with ``param`` naming the setting that is wrong.
        """
        check_ranges(self)  # crops, resample_fps, resize_short, crop_size
        if self.tail not in TAIL_POLICIES:
            raise UsageError(f"tail {self.tail!r}: choose {' or '.join(TAIL_POLICIES)}", param="tail")
        resolve_crop_order(self.crops, self.crop_order)
        if self.resize_mode is not None and self.resize_mode not in RESIZE_MODES:  # None: the backbone's own
            raise UsageError(f"resize_mode {self.resize_mode!r}: choose {' or '.join(RESIZE_MODES)}",
                             param="resize_mode")
        if self.dtype not in FEATURE_DTYPES:
            raise UsageError(f"dtype {self.dtype!r}: choose {' or '.join(FEATURE_DTYPES)}", param="dtype")
        if self.crop_size is not None and self.resize_short is not None and self.crop_size > self.resize_short:
            raise UsageError(f"crop_size {self.crop_size} is larger than the resized shorter side "
                             f"{self.resize_short}", param="crop_size")
        return self

    @property
    def dim(self) -> int | None:
        """The feature size the backbone makes (None for a backbone vadpipe does not know)."""
        from vadpipe.core.backbone_facts import BACKBONES

        facts = BACKBONES.get(self.backbone)
        return facts.feature_dim if facts else None

    def record_fields(self) -> dict:
        """The spec as index-record / config.json keys (every field, unset ones as null)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> FeatureSpec | None:
        """The spec an index record or a run's ``features`` section states; None when it names no backbone.

        Keys this version does not know are ignored; missing ones take the defaults above.
        """
        if not isinstance(record, dict) or not record.get("backbone"):
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in record.items() if k in names and v is not None}
        return cls(**known).with_defaults()

    @classmethod
    def type_problem(cls, record: dict) -> str | None:
        """Why a record's spec fields are not of their types (``crops 'x' must be a whole number``), or None.

        Only types: the choices (crops 1, 5 or 10, ...) are :meth:`checked` where features are made with it,
        as a store or run of features made elsewhere may hold others."""
        import math

        for f in dataclasses.fields(cls):
            value = record.get(f.name)
            if value is None:
                continue
            if "range" in f.metadata:
                kind = f.metadata["range"].kind
                fits = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                    and (kind is float or float(value).is_integer())
                wanted = "a whole number" if kind is int else "a number"
            else:
                kind = bool if f.type in ("bool", bool) else str
                fits, wanted = isinstance(value, kind), ("true or false" if kind is bool else "a string")
            if not fits:
                return f"{f.name} {value!r} must be {wanted}"
        return None

    def differences(self, other: FeatureSpec) -> dict[str, tuple]:
        """{field: (mine, theirs)} for every field where ``other`` differs."""
        return {f.name: (getattr(self, f.name), getattr(other, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) != getattr(other, f.name)}

    def describe(self) -> str:
        """One line: ``resnet3d, 10 crops (tencrop), tail pad, short_side 256 -> 224, every frame, float32``
        (``resnet3d int8, ...`` for features of the quantized backbone)."""
        fps = f"resampled to {self.resample_fps:g} fps" if self.resample_fps else "every frame"
        return (f"{self.backbone}{' int8' if self.int8 else ''}{' RANDOM-INIT' if self.random_init else ''}, "
                f"{self.crops} crop{'s' if self.crops != 1 else ''} ({self.crop_order}), tail {self.tail}, "
                f"{self.resize_mode} {self.resize_short} -> {self.crop_size}, {fps}, {self.dtype}")


# How the public feature sets were made (docs/reproduce.md), for runs trained on them: their lists carry no record.
PUBLIC_FEATURE_SETS = {
    "RTFM UCF-Crime": dict(backbone="resnet3d", crops=10, tail="pad"),
    "XD-Violence": dict(backbone="inception_i3d", crops=5, tail="drop"),
}


def public_spec(dim: int) -> tuple[str, FeatureSpec] | None:
    """(name, spec) of the public feature set of ``dim``-d features, or None when none is."""
    from vadpipe.core.backbone_facts import BACKBONES

    for name, settings in PUBLIC_FEATURE_SETS.items():
        if BACKBONES[settings["backbone"]].feature_dim == dim:
            return name, FeatureSpec.resolve(**settings)
    return None
