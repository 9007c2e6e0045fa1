"""What `watch` is asked to do, each setting with its valid range (pure Python: the CLI reads the ranges)."""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vadpipe.core.forward import MAX_BATCH
from vadpipe.errors import ConfigError
from vadpipe.infer.options import MAX_SMOOTH
from vadpipe.ranges import check_ranges, ranged

if TYPE_CHECKING:
    from vadpipe.live.sources import SourceSpec

DAY_S = 86400.0
MAX_ROLL_S = 600.0  # seconds of pre/post roll in a clip; the pre roll is held as decoded frames


@dataclass
class WatchOptions:
    """Everything `watch` was asked to do (the CLI's options, checked).

    ``threshold`` and ``release`` may be None only before the run's threshold is known (the CLI
    checks what it was given before loading anything); :func:`vadpipe.live.session.run_watch`
    resolves them.
    """

    sources: list[SourceSpec]
    threshold: float | None = ranged(MISSING, min=0, max=1)
    release: float | None = ranged(MISSING, min=0, max=1)
    hold_s: float = ranged(2.0, min=0, max=DAY_S)
    smooth: int = ranged(1, kind=int, min=1, max=MAX_SMOOTH)
    out: Path | None = None
    pre_s: float = ranged(5.0, min=0, max=MAX_ROLL_S)
    post_s: float = ranged(5.0, min=0, max=MAX_ROLL_S)
    webhook: str | None = None
    webhook_retries: int = ranged(4, kind=int, min=0, max=100)
    behind: str = "drop"
    queue: int = ranged(8, kind=int, min=1, max=100_000)
    realtime: bool = False
    retries: int = ranged(10, kind=int, min=0, max=1_000_000)
    backoff: float = ranged(1.0, min=0, max=3600)
    timeout: float = ranged(10.0, min=0, min_open=True, max=DAY_S)
    batch_size: int = ranged(4, kind=int, min=1, max=MAX_BATCH)
    # stop after this many seconds (benchmarks, tests); None: when every source ended
    duration_s: float | None = ranged(None, min=0, min_open=True)
    csv_rotate_s: float = ranged(3600.0, min=0, min_open=True)

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.webhook is not None:
            from vadpipe.live.webhook import check_webhook_url

            check_webhook_url(self.webhook)
        if self.threshold is not None and self.release is not None and self.release > self.threshold:
            raise ConfigError(f"release {self.release} must not exceed threshold {self.threshold} (an event closes "
                              "below release)", params=("release", "threshold"))
