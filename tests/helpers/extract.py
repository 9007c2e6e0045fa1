"""`extract_video(s)` called with loose keywords, as the pipeline tests read best: the spec's fields
(``crops``, ``tail``, ``fps``, sizes, ``dtype``) become a FeatureSpec for the module's backbone, the rest
ForwardOptions."""

from __future__ import annotations

import dataclasses

from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.core.forward import ForwardOptions
from vadpipe.features import extract
from vadpipe.session.backbone import BackboneSession

_SPEC = {f.name for f in dataclasses.fields(FeatureSpec)}
_OPTIONS = {f.name for f in dataclasses.fields(ForwardOptions)}


def split(model, kwargs: dict) -> tuple[FeatureSpec, ForwardOptions, dict]:
    kwargs = dict(kwargs)
    if "fps" in kwargs:
        kwargs["resample_fps"] = kwargs.pop("fps")
    spec = {k: kwargs.pop(k) for k in list(kwargs) if k in _SPEC}
    spec.setdefault("crops", model.spec.default_crops)
    options = {k: str(v) if k == "device" else v for k, v in list(kwargs.items()) if k in _OPTIONS}
    rest = {k: v for k, v in kwargs.items() if k not in _OPTIONS}
    return FeatureSpec(backbone=model.spec.name, **spec), ForwardOptions(**options), rest


def session_of(model, **kwargs) -> BackboneSession:
    """A session over ``model`` with the loose keywords as its spec and forward options (none left over)."""
    spec, options, rest = split(model, kwargs)
    assert not rest, rest
    return BackboneSession.from_module(model, spec, options)


def extract_video(path, model, **kwargs):
    return extract.extract_video(path, session_of(model, **kwargs))


def extract_videos(paths, model, **kwargs):
    spec, options, rest = split(model, kwargs)
    return extract.extract_videos(paths, BackboneSession.from_module(model, spec, options), **rest)
