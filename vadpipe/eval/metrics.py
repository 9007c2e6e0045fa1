"""Frame-level metrics, computed with scikit-learn over all test frames concatenated."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, average_precision_score, f1_score, precision_recall_curve, roc_auc_score


def frame_metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float | None]:
    """ROC AUC (UCF-Crime convention), AP, and the trapezoidal PR-curve area the XD-Violence code reports.

    Returns None for a metric that is undefined (only one class among the frames).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if labels.min() == labels.max():
        return {"auc": None, "ap": None, "pr_auc": None}
    precision, recall, _ = precision_recall_curve(labels, scores)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "ap": float(average_precision_score(labels, scores)),
        "pr_auc": float(auc(recall, precision)),
    }


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The score threshold with the highest frame-level F1 (used to pick the interval threshold).

    Returns:
        (threshold, f1)
    """
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    best = int(np.argmax(f1))
    threshold = float(thresholds[best])
    # Check with sklearn's own F1 that the threshold reproduces it (scores >= threshold are positive).
    return threshold, float(f1_score(labels, scores >= threshold))
