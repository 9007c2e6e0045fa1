"""``RUN/training.png``: the losses per term and the validation metric per epoch, from ``metrics.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from vadpipe.atomic import atomic_path

PLOT_NAME = "training.png"
LOSS_LABELS = {"loss_total": "total (weighted)", "loss_mil": "MIL", "loss_dr": "dynamics ranking",
               "loss_da": "dynamics alignment"}
VAL_LABELS = {"val_auc": "ROC AUC", "val_ap": "AP", "val_pr_auc": "PR-curve area"}


def read_history(run_dir: Path) -> list[dict]:
    """The epoch records of ``metrics.jsonl`` (unreadable lines left out)."""
    records = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _best_epoch(run_dir: Path) -> int | None:
    try:
        return json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8")).get("best_epoch")
    except (OSError, ValueError):
        return None


def plot_training(run_dir: Path, history: list[dict] | None = None) -> Path:
    """Draw ``run_dir/training.png`` (atomically) from ``history`` (default: the run's metrics.jsonl).

    Left: every loss term per epoch (unweighted, as logged). Right, when the run validates: the
    validation metrics per epoch, with the epoch the run keeps (config.json's best_epoch) marked.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    history = read_history(run_dir) if history is None else history
    epochs = [r["epoch"] for r in history]
    val_keys = [k for k in VAL_LABELS if any(r.get(k) is not None for r in history)]
    fig, axes = plt.subplots(1, 2 if val_keys else 1, figsize=(11 if val_keys else 6.5, 3.6), dpi=110,
                             squeeze=False)
    ax = axes[0][0]
    for key, label in LOSS_LABELS.items():
        if any(key in r for r in history):
            ax.plot(epochs, [r.get(key, float("nan")) for r in history], marker="o", ms=3,
                    lw=2 if key == "loss_total" else 1.2, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (epoch mean)")
    ax.set_title("training losses", fontsize=10)
    ax.grid(alpha=0.25)
    ax.legend(fontsize=8)
    if val_keys:
        ax = axes[0][1]
        for key in val_keys:
            ax.plot(epochs, [r.get(key) if r.get(key) is not None else float("nan") for r in history],
                    marker="o", ms=3, label=VAL_LABELS[key])
        best_epoch = _best_epoch(run_dir)
        if best_epoch:
            ax.axvline(best_epoch, color="tab:red", ls="--", lw=1, label=f"kept: epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("frame-level metric")
        ax.set_title("validation", fontsize=10)
        ax.grid(alpha=0.25)
        ax.legend(fontsize=8)
    for row in axes:
        for a in row:
            a.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    path = Path(run_dir) / PLOT_NAME
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
