"""Size and build time of the HTML report of N scored videos (no model: chosen scores, real videos).

Writes N synthetic H.264 videos (bench/score.py's moving texture) and their score outputs with
vadpipe's own writer, then times ``build_report`` three ways: originals hard-linked (what
``score --report`` does for browser-playable videos), ``--video webm`` (VP9 transcodes), and
``--video none`` (pages only), and prints the bytes each adds to the folder.

    python bench/report.py                       # 10 videos of 1 minute, 320x240 at 25 fps
    python bench/report.py --videos 10 --minutes 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from score import make_video  # noqa: E402

from tests.helpers.scores import write_scored  # noqa: E402
from vadpipe.report.build import build_report  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "vadpipe-bench")
    args = parser.parse_args(argv)

    frames = round(args.minutes * 60 * args.fps)
    video = args.cache / f"score-{frames}f-320x240-{args.fps}fps.mp4"
    if not video.is_file():
        make_video(video, frames, 320, 240, args.fps)
    rng = np.random.default_rng(0)
    t = -(-frames // 16)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scores"
        for i in range(args.videos):
            scores = np.clip(0.15 + 0.05 * rng.standard_normal(t), 0, 1)  # (T,)
            a = rng.integers(0, t - 20)
            scores[a : a + 20] += 0.6  # one event of 20 snippets
            write_scored(out, f"cam{i:02d}", scores, frames=frames, fps=args.fps, video=video)
        scoring_outputs = sum(p.stat().st_size for p in out.iterdir())
        print(f"{args.videos} videos of {args.minutes:g} min ({frames} frames, {video.stat().st_size / 2**20:.1f} MiB "
              f"each, H.264 320x240); score outputs (CSV + JSON + PNG): {scoring_outputs / 2**20:.2f} MiB")
        for mode in ("auto", "none", "webm"):
            start = time.perf_counter()
            report = build_report(out, video=mode)
            seconds = time.perf_counter() - start
            pages = sum(p.stat().st_size for p in out.rglob("*.html"))
            print(f"--video {mode:<5} {seconds:7.2f} s ({seconds / args.videos:.2f} s per video); adds "
                  f"{report.bytes / 2**20:7.2f} MiB (pages {pages / 2**20:.2f} MiB, report.html "
                  f"{report.index.stat().st_size / 1024:.0f} KiB); video: {report.media['cam00']}")


if __name__ == "__main__":
    main()
