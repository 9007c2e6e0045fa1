"""I3D backbones (specs, builders) and their input preprocessing."""

from vadpipe.backbones.preprocess import preprocess_snippets
from vadpipe.backbones.registry import BACKBONES, BackboneSpec, Preprocessing, build_backbone, get_spec

__all__ = ["BACKBONES", "BackboneSpec", "Preprocessing", "build_backbone", "get_spec", "preprocess_snippets"]
