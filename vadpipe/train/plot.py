"""``RUN/training.png``: the losses per term and the validation metrics per epoch (the lines of ``metrics.jsonl``).

The training loop redraws it as the run goes; this module imports no torch and draws with matplotlib (Agg).
"""

from __future__ import annotations

from pathlib import Path

from vadpipe.atomic import atomic_path

PLOT_NAME = "training.png"
LOSS_LABELS = {"loss_total": "total (weighted)", "loss_mil": "MIL", "loss_dr": "dynamics ranking",
               "loss_da": "dynamics alignment"}
VAL_LABELS = {"val_auc": "ROC AUC", "val_ap": "AP", "val_pr_auc": "PR-curve area"}


def plot_training(run_dir: Path, history: list[dict], best_epoch: int | None = None) -> Path:
    """Draw ``run_dir/training.png`` (atomically) from ``history``, the run's epoch records.

    Left: every loss term per epoch (unweighted, as logged). Right, when the run validates: the
    validation metrics per epoch, with ``best_epoch`` (the epoch the run keeps) marked.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
