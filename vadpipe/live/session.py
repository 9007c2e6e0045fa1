"""Setting up a watch: the run's scorer (banded), the backbone session of `score`, then the loop."""

from __future__ import annotations

from pathlib import Path

from vadpipe.core.forward import ForwardOptions
from vadpipe.live.sources import SourceSpec
from vadpipe.observers import Observer


def run_watch(specs: list[SourceSpec], run_dir: Path, *, forward: ForwardOptions = ForwardOptions(),
              window: int | None = None, lookahead: int | None = None, crops: int | None = None,
              backbone: str | None = None, weights: str | None = None, threshold: float | None = None,
              release: float | None = None, observer: Observer | None = None, **loop_options) -> dict:
    """Load the run, open the backbone session exactly as `score` does, and watch until done.

    Args:
        forward: device, engine, precision and batch settings of the backbone (``batch_size``: snippets of
            all streams per pass; default 4). Precision int8 calibrates on ``forward.calibrate``, else on the
            file sources; a live stream alone needs ``calibrate`` (:mod:`vadpipe.session.int8`).
        window, lookahead: the attention band (None: the run's; a run trained without one is watched
            with :data:`~vadpipe.core.band.DEFAULT_LIVE_WINDOW` and ``DEFAULT_LIVE_LOOKAHEAD``); the band
            and the latency its lookahead adds are said through ``observer``.
        crops, backbone: as `score`'s (fewer crops than the run's; a backbone for a run that records none).
        observer: told notes, failed streams and every watch event (:data:`vadpipe.observers.EVENTS`);
            nothing is printed.
        loop_options: the other fields of :class:`~vadpipe.live.options.WatchOptions`.

    Returns:
        the summary (per stream: status, snippets, events, latency, drops, reconnects, and ``lookahead_s``:
        the seconds the band's lookahead adds to every score at that stream's frame rate).
    """
    import dataclasses

    from vadpipe.core.band import live_band, lookahead_seconds
    from vadpipe.infer.options import IntervalOptions
    from vadpipe.infer.scoring import int8_note, scoring_spec
    from vadpipe.live.watch import Watcher, WatchOptions
    from vadpipe.model.checkpoint import load_run
    from vadpipe.model.online import OnlineScorer
    from vadpipe.session.backbone import open_session, resolve_forward

    observer = observer or Observer()
    batch_size = forward.batch_size or 4
    resolved = resolve_forward(dataclasses.replace(forward, batch_size=batch_size))
    scorer, config = load_run(run_dir, resolved.device)
    trained = (scorer.cfg.window, scorer.cfg.lookahead)
    scorer.set_band(*live_band(trained, window, lookahead))
    band = f"--window {scorer.cfg.window} --lookahead {scorer.cfg.lookahead}"
    late = (f"each score waits {scorer.cfg.lookahead} snippets, {lookahead_seconds(scorer.cfg.lookahead, 25.0):.2f} "
            "s at 25 fps" if scorer.cfg.lookahead else "no added latency")
    origin = "the run was trained without a band; watching" if not trained[0] else "watching"
    observer.note(f"{origin} with {band} ({late})")
    threshold, _ = IntervalOptions(threshold=threshold).resolve_threshold(config)
    release = round(0.8 * threshold, 6) if release is None else release
    options = WatchOptions(sources=specs, threshold=threshold, release=release, batch_size=batch_size,
                           **loop_options)  # checks release <= threshold
    spec = scoring_spec(config, backbone=backbone, crops=crops, observer=observer,
                        source=str(Path(run_dir) / "config.json"))  # exactly as `score` extracts
    session = open_session(spec, resolved, weights=weights, observer=observer,
                           calibration=[source.path for source in specs if source.kind == "file"])
    note = int8_note(spec, session)
    if note:
        observer.note(note)
    model_info = {"run": str(run_dir), "window": scorer.cfg.window, "lookahead": scorer.cfg.lookahead,
                  "threshold": threshold, "release": release, "backbone": spec.backbone, "crops": spec.crops,
                  "engine": session.engine, "precision": session.precision, "int8_check": session.int8_check,
                  "resample_fps": spec.resample_fps, "tail": spec.tail}
    watcher = Watcher(options, session, observer=observer, new_scorer=lambda: OnlineScorer(scorer),
                      model_info=model_info)
    summary = watcher.run()
    for row, stream in zip(summary["streams"], watcher.streams, strict=True):
        row["lookahead_s"] = round(lookahead_seconds(scorer.cfg.lookahead, stream.fps), 3)
    return summary
