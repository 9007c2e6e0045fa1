"""Scoring a feature set with a trained model and measuring it against frame-level ground truth."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from vadpipe.atomic import atomic_path
from vadpipe.errors import InputError
from vadpipe.eval.groundtruth import GroundTruth
from vadpipe.eval.metrics import frame_metrics
from vadpipe.features.formats import FeatureVideo
from vadpipe.model.scorer import AnomalyScorer
from vadpipe.video.snippets import frame_count, frame_scores


@dataclass
class VideoResult:
    id: str
    label: int | None
    snippets: int
    frames: int
    max_score: float
    mean_score: float
    abnormal_frames: int
    auc: float | None = None


@dataclass
class Evaluation:
    metrics: dict[str, float | None]
    videos: list[VideoResult]
    frames: int
    notes: list[str] = field(default_factory=list)  # alignment adjustments, reported not hidden
    problems: list[str] = field(default_factory=list)  # inputs that could not be evaluated
    scores: np.ndarray | None = None  # all frame scores concatenated
    labels: np.ndarray | None = None

    def summary(self) -> dict:
        return {
            **self.metrics,
            "videos": len(self.videos),
            "frames": self.frames,
            "failed": len(self.problems),
            "notes": self.notes,
            "problems": self.problems,
        }


def score_feature_video(model: AnomalyScorer, video: FeatureVideo, expected_dim: int) -> np.ndarray:
    """(T,) snippet scores of one video, averaged over its crops."""
    video.validate(expected_dim)
    feats = torch.from_numpy(video.load())  # (T, C, D)
    return model.score_video(feats).float().cpu().numpy()


def evaluate(model: AnomalyScorer, videos: list[FeatureVideo], gt: GroundTruth, *,
             per_video_auc: bool = False, left_out: set[str] = frozenset()) -> Evaluation:
    """Frame-level AUC / AP over all test frames concatenated, aligned per video.

    A video's frame count is the decoded count recorded at extraction when known,
    otherwise 16·T (the convention of the public features and their ground truth).
    ``left_out``: ids of videos already reported as unusable, so the ground truth naming them is no news.
    """
    dim = model.cfg.feature_dim
    all_scores, all_labels, results, notes, problems = [], [], [], [], []
    for video in videos:
        try:
            snippet = score_feature_video(model, video, dim)
            n_frames = frame_count(len(snippet), video.frames)
            labels, note = gt.labels_for(video.id, n_frames, video.label)
        except InputError as exc:
            problems.append(str(exc))
            continue
        if note:
            notes.append(note)
        curve = frame_scores(snippet, n_frames)
        all_scores.append(curve)
        all_labels.append(labels)
        results.append(VideoResult(
            id=video.id, label=video.label, snippets=len(snippet), frames=n_frames,
            max_score=float(curve.max()), mean_score=float(curve.mean()), abnormal_frames=int(labels.sum()),
            auc=frame_metrics(curve, labels)["auc"] if per_video_auc else None,
        ))
    known = {v.id for v in videos} | set(left_out)
    unknown = sorted(gt.video_ids - known) if gt.kind != "frames" else []
    if unknown:
        problems.append(
            f"{gt.path}: names {len(unknown)} video(s) with no features here (e.g. {', '.join(unknown[:3])}); "
            "they are not part of this evaluation"
        )
    if not all_scores:
        raise InputError(_nothing_evaluated(videos, gt, problems))
    scores, labels = np.concatenate(all_scores), np.concatenate(all_labels)
    return Evaluation(frame_metrics(scores, labels), results, int(scores.size), notes, problems, scores, labels)


def _names(names: list[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _nothing_evaluated(videos: list[FeatureVideo], gt: GroundTruth, problems: list[str]) -> str:
    """The one line that ends an evaluation in which no video could be scored against the ground truth."""
    ids = sorted(v.id for v in videos)
    if not ids:
        return "no test videos to evaluate"
    if gt.kind != "frames" and not set(ids) & gt.video_ids:
        return (f"{gt.path} names none of the {len(ids)} test videos (it names {len(gt.video_ids)}: "
                f"{_names(sorted(gt.video_ids))}; the test videos are {_names(ids)}); give the ground truth "
                "of these videos")
    return (f"none of the {len(ids)} test videos could be evaluated: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))


def write_per_video(path: str | Path, videos: list[VideoResult]) -> Path:
    """Write one CSV row per evaluated video (scores, frames, its own AUC when measured), atomically."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "label", "snippets", "frames", "abnormal_frames", "max_score", "mean_score", "auc"])
        for v in videos:
            writer.writerow([v.id, "" if v.label is None else v.label, v.snippets, v.frames, v.abnormal_frames,
                             f"{v.max_score:.6f}", f"{v.mean_score:.6f}", "" if v.auc is None else f"{v.auc:.6f}"])
    return path
