"""One backbone session: device, precision and engine resolved once, the backbone built once, its notes said once.

`extract`, `score`, `watch` and the benchmarks all get their backbone here::

    forward = resolve_forward(options)              # before any work: a bad or missing engine is one line
    session = open_session(spec, forward, weights=..., allow_random=..., observer=...)
    clips = session.preprocess(frames)              # uint8 (S, 16, H, W, 3) -> (S, C, 3, 16, crop, crop)
    feats = session(clips.to(session.device))       # -> (S, C, D) float32

so that the same video gives the same features whichever command reads it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.core.forward import ForwardOptions
from vadpipe.observers import Observer
from vadpipe.session.runner import BackboneRunner


@dataclass(frozen=True)
class ResolvedForward:
    """:class:`ForwardOptions` with ``device``, ``precision`` and ``engine`` resolved (no ``auto`` left).

    Attributes:
        options: the options as asked, with device, precision and engine replaced by what they resolved to.
        device: the torch device.
    """

    options: ForwardOptions
    device: torch.device

    @property
    def precision(self) -> str:
        return self.options.precision

    @property
    def engine(self) -> str:
        return self.options.engine


def resolve_forward(options: ForwardOptions = ForwardOptions()) -> ResolvedForward:
    """Resolve ``auto`` device, precision and engine, and check they go together; nothing is built.

    Raises:
        UsageError: an unknown, missing (the line names the pip command) or conflicting engine, or a device
            that is not there (``param`` names the setting).
    """
    from vadpipe.devices import resolve_device
    from vadpipe.engines import resolve_engine
    from vadpipe.session.precision import resolve_precision

    device = resolve_device(options.device)
    precision = resolve_precision(options.precision, device)
    engine = resolve_engine(options.engine, device, precision=precision, compile=options.compile,
                            channels_last=options.channels_last)
    resolved = dataclasses.replace(options, device=str(device), precision=precision, engine=engine)
    return ResolvedForward(resolved, device)


class BackboneSession:
    """A built backbone with its preprocessing and forward pass (module docstring).

    Attributes:
        spec: the feature spec the session makes (``random_init`` as built).
        forward: how the forward passes run (resolved).
        net: the torch module (eval mode, on the device).
        runner: the forward pass (engine, precision, memory format, compile).
        int8_check: with precision int8, how the quantized model's features matched fp32 on held-out
            calibration snippets (min/mean/p1 cosine, ...; :mod:`vadpipe.session.int8`), else None.
    """

    def __init__(self, net: nn.Module, spec: FeatureSpec, forward: ResolvedForward):
        if spec.backbone != net.spec.name:
            raise ValueError(f"the spec is for backbone {spec.backbone}, the module given is {net.spec.name}")
        self.net, self.spec, self.forward = net, spec.checked(), forward
        options = forward.options
        self.runner = BackboneRunner(net, forward.device, precision=options.precision,
                                     channels_last=options.channels_last, compile=options.compile,
                                     engine=options.engine)
        self.preprocess = functools.partial(_preprocess, prep=net.spec.preprocessing, spec=self.spec)
        self.int8_check: dict | None = None

    @classmethod
    def from_module(cls, net: nn.Module, spec: FeatureSpec, options: ForwardOptions = ForwardOptions()
                    ) -> BackboneSession:
        """A session over a module built elsewhere (tests, benchmarks); ``auto`` device is the module's own."""
        if options.device == "auto":
            first = next(net.parameters(), None)
            if first is not None:
                options = dataclasses.replace(options, device=str(first.device))
        return cls(net, spec, resolve_forward(options))

    @property
    def device(self) -> torch.device:
        return self.forward.device

    @property
    def precision(self) -> str:
        return self.runner.precision

    @property
    def engine(self) -> str:
        return self.runner.engine

    @property
    def feature_dim(self) -> int:
        return self.net.spec.feature_dim

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, C, 3, 16, crop, crop) preprocessed clips on the device -> (B, C, D) float32 features."""
        return self.runner(clips)

    def rounded_as_stored(self, features: torch.Tensor) -> torch.Tensor:
        """float32 ``features`` with the precision the spec stores them in (``dtype`` float16: rounded to it), so
        that features scored live equal those `extract` writes and `score` reads."""
        if self.spec.dtype == "float32":
            return features
        return features.to(getattr(torch, self.spec.dtype)).float()


def _preprocess(frames: torch.Tensor, *, prep, spec: FeatureSpec) -> torch.Tensor:
    from vadpipe.backbones.preprocess import preprocess_snippets

    return preprocess_snippets(frames, prep=prep, crops=spec.crops, resize_short=spec.resize_short,
                               crop_size=spec.crop_size, crop_order=spec.crop_order, resize_mode=spec.resize_mode)


def open_session(spec: FeatureSpec, forward: ResolvedForward | ForwardOptions = ForwardOptions(), *,
                 weights: str | Path | None = None, allow_random: bool = False,
                 observer: Observer | None = None, calibration: Sequence[str | Path] = ()) -> BackboneSession:
    """Build the backbone of ``spec`` with its weights and say, once, what the user should know about it.

    Args:
        spec: the features to make; ``spec.random_init`` rebuilds the seeded random backbone a run was
            trained on (the offline demo), even when weights are cached.
        forward: how the passes run (resolved here when given as options).
        weights: checkpoint file or registry name (None: the cached default).
        allow_random: without cached weights, build the seeded random backbone instead of failing
            (``extract --random-init``); the returned session's ``spec.random_init`` says which was built.
        observer: told the notes (a random-init backbone, a first export for a CPU engine, int8's check).
        calibration: with precision int8, the videos to calibrate on when ``forward`` names none in
            ``calibrate`` (the inputs being processed). The session's spec says ``int8`` only when the
            quantized model passed its check; otherwise it runs fp32 (:mod:`vadpipe.session.int8`).

    Raises:
        UsageError: a bad engine or device. VadpipeError: the weights are missing or do not fit.
    """
    from vadpipe.backbones.registry import build_backbone

    observer = observer or Observer()
    if isinstance(forward, ForwardOptions):
        forward = resolve_forward(forward)
    net = build_backbone(spec.backbone, weights=weights, allow_random=allow_random, random_init=spec.random_init,
                         device=forward.device)
    if spec.random_init:
        observer.note(f"{spec.backbone}: the features asked for are those of the seeded RANDOM-INIT backbone "
                      "(a run trained on them, such as the offline demo's); using that backbone")
    elif net.random_init:
        observer.note(f"{spec.backbone}: no weights found, using a RANDOM-INIT backbone as asked "
                      "(--random-init); its features are for tests and timing only")
    # int8 as made, not as recorded: only a quantized model that passes its check makes int8 features (below).
    session = BackboneSession(net, dataclasses.replace(spec, random_init=bool(net.random_init), int8=False), forward)
    if session.engine != "torch":
        from vadpipe.engines.backbone import export_pending

        pending = export_pending(net, session.engine, spec.crop_size)
        if pending:
            observer.note(pending)
    if forward.precision == "int8":
        from vadpipe.session.int8 import use_int8

        use_int8(session, forward.options.calibrate or tuple(calibration), observer)
    return session
