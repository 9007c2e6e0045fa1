"""Synthetic weakly-labelled feature sets: anomalies are short segments shifted along one direction."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def make_video_features(rng, t: int, dim: int, crops: int, direction: np.ndarray,
                        event: tuple[int, int] | None) -> np.ndarray:
    """(T, C, D) float32: a smooth random background, plus ``3 * direction`` inside ``event``."""
    background = np.zeros((t, dim), dtype=np.float32)
    state = rng.normal(size=dim)
    for i in range(t):
        state = 0.8 * state + 0.6 * rng.normal(size=dim)
        background[i] = state
    if event is not None:
        background[event[0] : event[1]] += 3.0 * direction
    noise = 0.1 * rng.normal(size=(t, crops, dim))
    return (background[:, None, :] + noise).astype(np.float32)


def write_store(root: Path, *, n_abnormal: int, n_normal: int, dim: int = 32, crops: int = 2,
                seed: int = 0, t_range=(40, 120), direction_seed: int = 123) -> dict[str, tuple[int, int] | None]:
    """A vadpipe feature store under ``root``; returns each video's event in snippets (None for normal)."""
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(direction_seed).normal(size=dim)
    direction /= np.linalg.norm(direction) / np.sqrt(dim) * 2
    root.mkdir(parents=True, exist_ok=True)
    events = {}
    with open(root / "index.jsonl", "w") as index:
        for i in range(n_abnormal + n_normal):
            abnormal = i < n_abnormal
            t = int(rng.integers(*t_range))
            event = None
            if abnormal:
                length = int(rng.integers(4, 12))
                start = int(rng.integers(0, t - length))
                event = (start, start + length)
            vid = f"{'abnormal' if abnormal else 'normal'}_{i:03d}"
            np.save(root / f"{vid}.npy", make_video_features(rng, t, dim, crops, direction, event))
            events[vid] = event
            index.write(json.dumps({
                "video": f"{vid}.mp4", "id": vid, "features": f"{vid}.npy", "frames": 16 * t, "fps": 25.0,
                "snippets": t, "crops": crops, "dim": dim, "backbone": "synthetic", "tail": "pad",
                "status": "ok", "label": int(abnormal),
            }) + "\n")
    return events


def write_ucf_annotations(path: Path, events: dict[str, tuple[int, int] | None]) -> None:
    """UCF-Crime style ``name class s1 e1 s2 e2`` lines, frames = 16 x snippets."""
    lines = []
    for vid, event in events.items():
        if event is None:
            lines.append(f"{vid}.mp4  Normal  -1  -1  -1  -1")
        else:
            lines.append(f"{vid}.mp4  Abuse  {16 * event[0]}  {16 * event[1]}  -1  -1")
    path.write_text("\n".join(lines) + "\n")
