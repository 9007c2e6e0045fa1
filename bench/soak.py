"""Hours, not seconds: `watch` on a long loopback stream, with its memory, file descriptors and latency over time.

A TCP server on 127.0.0.1 sends an MPEG-TS stream (a short 25 fps clip, encoded once, sent again and
again) until ``--minutes`` of stream time have gone out, then closes. `run_watch` scores it in this
process (random-init resnet3d, 1 centre crop, ``--size`` 112 or 224, the ucf scorer with W = 64,
``--behind queue`` so no snippet is skipped, ``--out`` so CSVs and event clips are written), while an
observer samples, at every minute of stream time, the process's resident memory (``/proc/self/statm``),
its open file descriptors (``/proc/self/fd``) and the latency of the snippets scored in that minute.

It prints one row per minute and the verdict against issue 23's bar: resident memory growth after the
warm-up (the first ``--warmup`` minutes) under 5 %, no file-descriptor growth, latency p99 stable
(the last minutes' p99 within 2x the first minutes' after the warm-up).

    python bench/soak.py --minutes 30 --size 112     # the issue's run (~10 min of CPU on 2 idle cores)
    python bench/soak.py --minutes 3                 # a quick look

Served as fast as the reader takes it, so stream time runs ahead of wall time: what is soaked is
the pipeline's state over stream time (rings, queues, CSV rotation, clips, the online scorer),
not the wall clock.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from watch import SIZES, make_run  # noqa: E402  (the run bench/watch.py measures)

from vadpipe.core.forward import ForwardOptions  # noqa: E402
from vadpipe.live.session import run_watch  # noqa: E402
from vadpipe.live.sources import parse_sources  # noqa: E402
from vadpipe.observers import Observer  # noqa: E402

FPS = 25


def clip_bytes(seconds: float, width: int = 320, height: int = 240) -> bytes:
    """An MPEG-TS clip: drifting noise with a bright stretch in its middle third (so events open and close)."""
    import av

    buffer = tempfile.SpooledTemporaryFile()
    with av.open(buffer, mode="w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        rng = np.random.default_rng(0)
        n = int(seconds * FPS)
        for i in range(n):
            level = 200 if n // 3 <= i < 2 * n // 3 else 40
            image = rng.integers(0, level, size=(height, width, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    return buffer.read()


class LoopServer(threading.Thread):
    """Serves ``data`` ``repeats`` times to the first client on 127.0.0.1, then closes."""

    def __init__(self, data: bytes, repeats: int):
        super().__init__(daemon=True)
        self.data, self.repeats = data, repeats
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def run(self) -> None:
        self.sock.settimeout(120)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            try:
                for _ in range(self.repeats):
                    conn.sendall(self.data)
            except OSError:
                pass
        self.sock.close()


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Sampler(Observer):
    """Per minute of stream time: resident MB, open fds, snippets and their latency p50 / p99."""

    def __init__(self):
        self.rows: list[dict] = []
        self._latencies: list[float] = []
        self._minute = 0

    def event(self, kind: str, data: dict) -> None:
        if kind != "snippet":
            return
        minute = int(data["stream_time_s"] // 60)
        if minute > self._minute:
            self._close(self._minute)
            self._minute = minute
        self._latencies.append(data["latency_ms"])

    def _close(self, minute: int) -> None:
        lat = np.asarray(self._latencies or [np.nan])
        self.rows.append({"minute": minute + 1, "rss_mb": resident_mb(), "fds": open_fds(),
                          "snippets": len(self._latencies), "p50_ms": float(np.percentile(lat, 50)),
                          "p99_ms": float(np.percentile(lat, 99))})
        self._latencies = []

    def finish(self) -> None:
        if self._latencies:
            self._close(self._minute)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="stream time to soak")
    parser.add_argument("--size", type=int, default=112, choices=sorted(SIZES))
    parser.add_argument("--clip-seconds", type=float, default=30.0, help="length of the clip sent again and again")
    parser.add_argument("--warmup", type=int, default=3, help="minutes of stream time before memory counts")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        run = make_run(tmp / "run", args.size)
        data = clip_bytes(args.clip_seconds)
        server = LoopServer(data, max(1, round(args.minutes * 60 / args.clip_seconds)))
        server.start()
        sampler = Sampler()
        started = time.perf_counter()
        summary = run_watch(parse_sources([f"tcp://127.0.0.1:{server.port}"]), run,
                            forward=ForwardOptions(device="cpu", engine="torch", batch_size=4), observer=sampler,
                            behind="queue", out=tmp / "live", retries=0, timeout=30, hold_s=2.0, pre_s=5.0,
                            post_s=5.0, csv_rotate_s=600.0)
        sampler.finish()
        wall = time.perf_counter() - started
    stream = summary["streams"][0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.size} px, 1 crop, W = 64; "
          f"{stream['snippets_scored']} snippets ({stream['snippets_scored'] * 16 / FPS / 60:.1f} min of stream) "
          f"in {wall:.0f} s; events {stream['events']}; dropped {stream['dropped_snippets']}")
    print(f"{'minute':>6} {'RSS MB':>8} {'fds':>4} {'snippets':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for row in sampler.rows:
        print(f"{row['minute']:>6} {row['rss_mb']:>8.1f} {row['fds']:>4} {row['snippets']:>8} {row['p50_ms']:>8.0f} "
              f"{row['p99_ms']:>8.0f}")
    after = [r for r in sampler.rows if r["minute"] > args.warmup]
    if len(after) < 2:
        print(f"too short to judge: fewer than 2 minutes after a {args.warmup}-minute warm-up")
        return
    base, peak = after[0]["rss_mb"], max(r["rss_mb"] for r in after)
    growth = (peak - base) / base
    fd_growth = max(r["fds"] for r in after) - after[0]["fds"]
    k = max(1, len(after) // 4)
    early = np.median([r["p99_ms"] for r in after[:k]])
    late = np.median([r["p99_ms"] for r in after[-k:]])
    print(f"after the warm-up: resident memory {base:.1f} -> peak {peak:.1f} MB ({growth * 100:+.1f} %, bar < 5 %); "
          f"file descriptors {fd_growth:+d} (bar 0); latency p99 first {k} min {early:.0f} ms, last {k} min "
          f"{late:.0f} ms (ratio {late / early:.2f}, bar < 2)")
    ok = growth < 0.05 and fd_growth <= 0 and late / early < 2
    print("verdict:", "flat" if ok else "NOT flat")


if __name__ == "__main__":
    main()
