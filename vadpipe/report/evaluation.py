"""``vadpipe evaluate --plots DIR``: ROC and PR curves, per-video curves against the ground truth, evaluate.html.

Writes ``roc.png``, ``pr.png``, ``videos.png`` (the worst videos first: the largest mean gap between the
frame scores and the frame labels) and ``evaluate.html`` (the metrics, the pictures, and every video in a
sortable table with its curve over the ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vadpipe.atomic import atomic_path, write_text
from vadpipe.report.svg import sparkline_svg
from vadpipe.report.template import SORT_JS, cell, esc, href, page, sortable_table, stat

GRID_MAX = 24  # per-video curves drawn in videos.png
GRID_COLUMNS = 4


@dataclass
class VideoCurve:
    """One evaluated video: its per-frame scores and labels, and how far apart they are."""

    result: object  # vadpipe.eval.evaluate.VideoResult
    scores: np.ndarray  # (N,)
    labels: np.ndarray  # (N,) 0/1

    @property
    def error(self) -> float:
        """Mean |score - label| over the frames: 0 is perfect, for normal and abnormal videos alike."""
        return float(np.mean(np.abs(self.scores - self.labels)))


def split_videos(evaluation) -> list[VideoCurve]:
    """The concatenated frame scores and labels of an Evaluation, cut back into its videos (same order)."""
    cuts = np.cumsum([0] + [v.frames for v in evaluation.videos])
    return [VideoCurve(v, evaluation.scores[a:b], evaluation.labels[a:b])
            for v, a, b in zip(evaluation.videos, cuts[:-1], cuts[1:], strict=True)]


def _savefig(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def plot_roc_pr(out: Path, scores: np.ndarray, labels: np.ndarray, metrics: dict) -> list[Path]:
    """``roc.png`` and ``pr.png`` over all frames (AUC / AP in the legends); none when one class only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    if metrics.get("auc") is None:
        return []
    fpr, tpr, _ = roc_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(5, 4.4), dpi=110)
    ax.plot(fpr, tpr, color="tab:blue", lw=1.8, label=f"LA-Net + DDL (AUC = {metrics['auc']:.4f})")
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="chance (AUC = 0.5)")
    ax.set(xlabel="false positive rate (frames)", ylabel="true positive rate (frames)", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title("ROC, frame level", fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(loc="lower right", fontsize=8)
    _savefig(fig, out / "roc.png")
    precision, recall, _ = precision_recall_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(5, 4.4), dpi=110)
    ax.step(recall, precision, where="post", color="tab:purple", lw=1.8,
            label=f"AP = {metrics['ap']:.4f} (PR-curve area {metrics['pr_auc']:.4f})")
    rate = float(np.mean(labels))
    ax.axhline(rate, color="grey", ls="--", lw=1, label=f"chance (abnormal frames: {rate:.3f})")
    ax.set(xlabel="recall (frames)", ylabel="precision (frames)", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title("precision-recall, frame level", fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(loc="lower left", fontsize=8)
    _savefig(fig, out / "pr.png")
    return [out / "roc.png", out / "pr.png"]


def plot_video_grid(path: Path, videos: list[VideoCurve], threshold: float | None = None) -> None:
    """Per-video curves (frames on x) with the ground-truth frames shaded, the ``GRID_MAX`` worst first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vadpipe.infer.report import plot_label

    shown = sorted(videos, key=lambda v: -v.error)[:GRID_MAX]
    rows = max(1, -(-len(shown) // GRID_COLUMNS))
    fig, axes = plt.subplots(rows, GRID_COLUMNS, figsize=(3.4 * GRID_COLUMNS, 2.1 * rows), dpi=100, squeeze=False)
    for ax in axes.flat[len(shown):]:
        ax.axis("off")
    for ax, v in zip(axes.flat, shown, strict=False):
        frames = np.arange(len(v.scores))
        ax.fill_between(frames, 0, 1, where=v.labels.astype(bool), color="tab:red", alpha=0.18, lw=0, step="post")
        ax.plot(frames, v.scores, color="tab:blue", lw=1)
        if threshold is not None:
            ax.axhline(threshold, color="tab:red", ls="--", lw=0.8)
        auc = "" if v.result.auc is None else f", AUC {v.result.auc:.2f}"
        ax.set_title(f"{plot_label(v.result.id)}\nerror {v.error:.2f}{auc}", fontsize=7.5, parse_math=False)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlim(0, max(1, len(frames) - 1))
        ax.tick_params(labelsize=6)
    fig.suptitle("per-video scores (blue) over ground-truth frames (red), worst first", fontsize=9)
    _savefig(fig, path)


def write_evaluation_report(out: Path, evaluation, *, model: str, ground_truth: str,
                            threshold: float | None = None) -> Path:
    """All pictures and ``out/evaluate.html``; returns the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    videos = split_videos(evaluation)
    pictures = plot_roc_pr(out, evaluation.scores, evaluation.labels, evaluation.metrics)
    plot_video_grid(out / "videos.png", videos, threshold)
    pictures.append(out / "videos.png")
    index = out / "evaluate.html"
    rows = []
    for v in sorted(videos, key=lambda v: -v.error):
        r = v.result
        label = {None: "", 0: "normal", 1: "abnormal"}.get(r.label, str(r.label))
        rows.append(
            "<tr>" + cell(r.id, r.id.lower(), cls="name") + cell(label, label)
            + cell(str(r.frames), r.frames, num=True) + cell(str(r.abnormal_frames), r.abnormal_frames, num=True)
            + cell(f"{r.max_score:.3f}", r.max_score, num=True) + cell(f"{r.mean_score:.3f}", r.mean_score, num=True)
            + cell("" if r.auc is None else f"{r.auc:.3f}", r.auc, num=True)
            + cell(f"{v.error:.3f}", round(v.error, 6), num=True)
            + cell(sparkline_svg(v.scores, threshold, truth=v.labels), None, raw=True) + "</tr>"
        )
    table = sortable_table([("video", "text"), ("label", "text"), ("frames", "num"), ("abnormal frames", "num"),
                            ("max score", "num"), ("mean score", "num"), ("AUC", "num"), ("error", "num"),
                            ("score over ground truth", "")], rows, table_id="videos")
    m = evaluation.metrics
    fmt = {k: "n/a" if m.get(k) is None else f"{100 * m[k]:.2f}%" for k in ("auc", "ap", "pr_auc")}
    body = ('<div class="stats">' + stat("ROC AUC", fmt["auc"]) + stat("AP", fmt["ap"])
            + stat("PR-curve area", fmt["pr_auc"]) + stat("videos", str(len(videos)))
            + stat("frames", f"{evaluation.frames:,}") + "</div>")
    lines = [*(f"problem: {p}" for p in evaluation.problems), *(f"note: {n}" for n in evaluation.notes)]
    if lines:
        body += ('<div class="card" id="notes"><h2>Notes</h2><ul class="failed">'
                 + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul></div>")
    imgs = "".join(f'<img class="plot" src="{esc(href(p, out))}" alt="{esc(p.stem)}">' for p in pictures[:-1])
    if imgs:
        body += f'<div class="card"><h2>Frame-level curves</h2><div class="cols">{imgs}</div></div>'
    else:
        body += '<div class="card muted">ROC and PR curves need both normal and abnormal frames.</div>'
    body += (f'<div class="card"><h2>Per-video curves, worst first (at most {GRID_MAX})</h2>'
             f'<img class="plot" src="{esc(href(pictures[-1], out))}" alt="per-video curves"></div>'
             f'<div class="card"><h2>Every video <span class="muted" style="font-weight:normal">(error = mean '
             f'|score &minus; label| over its frames; click a header to sort)</span></h2>{table}</div>')
    subtitle = f"model {model}, ground truth {ground_truth}"
    write_text(index, page("Evaluation", body, subtitle=subtitle, scripts=(SORT_JS,)))
    return index
