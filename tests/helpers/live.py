"""Live-stream test helpers: a tiny run that fires on bright snippets, and streams served on 127.0.0.1 with PyAV."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from vadpipe.backbones.registry import build_backbone
from vadpipe.core.feature_spec import FeatureSpec
from vadpipe.features.extract import extract_video
from vadpipe.model.checkpoint import RunConfig, save_run
from vadpipe.model.config import LossConfig, ScorerConfig, TrainConfig
from vadpipe.model.scorer import AnomalyScorer
from vadpipe.session.backbone import BackboneSession

FPS = 25
HEIGHT, WIDTH = 40, 48
SIZE = dict(resize_short=36, crop_size=32)


def event_frames(snippets: int, event: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(16 * snippets, H, W, 3) dark noise, bright noise on snippets [event[0], event[1])."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 40, size=(16 * snippets, HEIGHT, WIDTH, 3), dtype=np.uint8)
    a, b = event
    frames[16 * a : 16 * b] = rng.integers(200, 256, size=(16 * (b - a), HEIGHT, WIDTH, 3), dtype=np.uint8)
    return frames


def write_mp4(path: Path, frames: np.ndarray, fmt: str | None = None) -> Path:
    with av.open(str(path), mode="w", format=fmt) as container:
        encode(container, frames)
    return path


def encode(container, frames: np.ndarray, pace: float | None = None, stop: threading.Event | None = None) -> None:
    """Lossless H.264 of ``frames`` into an open container, optionally paced at ``pace`` x real time."""
    stream = container.add_stream("libx264", rate=Fraction(FPS))
    stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
    stream.options = {"preset": "ultrafast", "qp": "0", "tune": "zerolatency"}
    start = time.perf_counter()
    for i, image in enumerate(frames):
        if stop is not None and stop.is_set():
            break
        if pace:
            delay = start + i / (FPS * pace) - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def make_run(run_dir: Path, train_video: Path, *, window: int = 8, lookahead: int = 0) -> Path:
    """A run whose scorer fires on the bright snippets of ``event_frames`` (trained on one video's features)."""
    net = build_backbone("inception_i3d", random_init=True, seed=0)
    spec = FeatureSpec.resolve("inception_i3d", crops=1, tail="pad", random_init=True, **SIZE)
    feats, _ = extract_video(train_video, BackboneSession.from_module(net, spec))  # (T, 1, 1024)
    x = torch.from_numpy(feats[:, 0])  # (T, D)
    bright = torch.tensor([frames_mean > 100 for frames_mean in _snippet_brightness(train_video)], dtype=torch.float32)
    torch.manual_seed(0)
    cfg = ScorerConfig(feature_dim=1024, heads=2, hidden_dim=16, mlp_dims=(16, 8), sigma=2.0, conv_kernel=2,
                       dropout=0.0, window=window, lookahead=lookahead, standardize=True)
    model = AnomalyScorer(cfg)
    model.set_feature_statistics(x.mean(0), x.std(0) + 1e-3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        s = model(x[None]).scores[0]
        torch.nn.functional.binary_cross_entropy(s, bright).backward()
        opt.step()
    config = RunConfig(scorer=cfg, loss=LossConfig(), train=TrainConfig(),
                       features=spec,
                       threshold=0.5, threshold_source="test")
    save_run(run_dir, model.eval(), config)
    return run_dir


def _snippet_brightness(path: Path) -> list[float]:
    from vadpipe.video.decode import read_video

    frames, _ = read_video(path)
    n = -(-len(frames) // 16)
    return [float(frames[16 * i : 16 * i + 16].mean()) for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TcpTsServer(threading.Thread):
    """Serves ``frames`` once as MPEG-TS to the first client of tcp://127.0.0.1:port, paced at ``pace`` x real time.

    The socket listens from construction on (a client started right after never finds it closed);
    ``stop_after`` frames cuts the stream short (as a camera that drops), ``port=0`` picks a free port.
    """

    def __init__(self, frames: np.ndarray, port: int = 0, *, pace: float = 4.0, stop_after: int | None = None,
                 wait_s: float = 20.0):
        super().__init__(daemon=True)
        self.frames, self.pace, self.stop_after = frames, pace, stop_after
        self.stop = threading.Event()
        self.served = False
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(1)
        self.listener.settimeout(wait_s)
        self.port = self.listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def run(self) -> None:
        frames = self.frames if self.stop_after is None else self.frames[: self.stop_after]
        try:
            conn, _ = self.listener.accept()
        except OSError:
            self.listener.close()
            return
        self.listener.close()
        try:
            with conn, conn.makefile("wb") as sink, av.open(sink, mode="w", format="mpegts") as container:
                encode(container, frames, pace=self.pace, stop=self.stop)
            self.served = True
        except (av.FFmpegError, OSError, ValueError):
            pass


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    """Serves a folder (HLS playlists and segments) without logging each request."""

    def log_message(self, *args):
        pass


class WebhookSink(threading.Thread):
    """A local HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self):
        super().__init__(daemon=True)
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 0.2

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
