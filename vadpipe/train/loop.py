"""The training loop: Adam + cosine decay over balanced bag batches, one checkpoint per epoch.

Everything random in epoch e is seeded from (seed, e) alone, so a run resumed from
``last.ckpt`` reproduces the uninterrupted run exactly on the CPU.

After every epoch the run folder is whole: ``config.json`` + ``model.safetensors`` (the epoch
kept), ``last.ckpt``, ``metrics.jsonl`` and ``training.png`` (redrawn at a pace that keeps its
cost small, and after the last epoch).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import torch

from vadpipe.atomic import atomic_path, strict_json, write_json, write_text
from vadpipe.errors import UsageError, VadpipeError
from vadpipe.eval.evaluate import evaluate
from vadpipe.eval.groundtruth import GroundTruth
from vadpipe.eval.metrics import best_f1_threshold
from vadpipe.features.formats import FeatureVideo
from vadpipe.model.checkpoint import CONFIG_NAME, RunConfig, save_run
from vadpipe.model.losses import total_loss
from vadpipe.model.scorer import AnomalyScorer
from vadpipe.observers import Observer
from vadpipe.train.data import collate_bags, epoch_batches, feature_statistics, require_both_classes
from vadpipe.train.distributed import DistContext
from vadpipe.train.plot import plot_training

CKPT_NAME = "last.ckpt"
# |feature| past this: products in attention overflow float32 (3.4e38) long before the rate matters
FEATURE_OVERFLOW = 1e15
METRICS_NAME = "metrics.jsonl"


@dataclasses.dataclass
class Validation:
    videos: list[FeatureVideo]
    ground_truth: GroundTruth


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


def train(
    run_dir: str | Path,
    config: RunConfig,
    dataset: torch.utils.data.Dataset,
    *,
    validation: Validation | None = None,
    resume: bool = False,
    device: torch.device | str = "cpu",
    workers: int = 0,
    observer: Observer | None = None,
    dist: DistContext | None = None,
) -> RunConfig:
    """Train a scorer into ``run_dir`` and return the final run config.

    Args:
        dataset: a :class:`BagSet` (or any dataset with ``labels`` and ``(bag, seed)`` items).
        validation: test-style videos and their ground truth; the best epoch by
            ``config.metric`` is kept and the interval threshold is chosen on it.
        resume: continue from ``run_dir/last.ckpt``.
        observer: told each epoch's start (``started(epoch, batches)``), each batch
            (``advanced(1)``) and each epoch's record once it is written (event ``epoch``).
        dist: this process's place under torchrun; each process trains on its share of
            every global batch (DDP), and rank 0 alone writes the run folder and tells the observer.
    """
    dist = dist or DistContext()
    observer = observer if observer is not None and dist.is_main else Observer()
    run_dir = Path(run_dir)
    ckpt_path = run_dir / CKPT_NAME
    if ckpt_path.exists() and not resume:
        raise UsageError(f"resume is off but {run_dir} already holds a run; turn it on to continue that run, or "
                         "choose a new run folder", param="resume")
    state = None
    if resume:  # the checkpoint's config decides the architecture, before anything is built
        if not ckpt_path.exists():
            raise UsageError(f"resume: {ckpt_path} does not exist, so there is nothing to resume; start the run "
                             "without it", param="resume")
        state = _load_checkpoint(ckpt_path)
        config = RunConfig.from_dict(state["config"])
    labels = np.asarray(dataset.labels)
    require_both_classes(labels)
    tc = config.train
    device = torch.device(device)
    if tc.batch_size < dist.world_size:
        raise UsageError(f"batch_size {tc.batch_size} is smaller than the {dist.world_size} processes",
                         param="batch_size")
    torch.manual_seed(tc.seed)  # initial weights, the same in every process
    model = AnomalyScorer(config.scorer)
    if config.scorer.standardize and not resume:  # a resumed run restores them with the weights
        model.set_feature_statistics(*feature_statistics(dataset))
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    steps_per_epoch = len(epoch_batches(labels, tc.batch_size, 0, tc.balanced))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, tc.epochs * steps_per_epoch))
    history: list[dict] = []
    start_epoch = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, start_epoch = list(state["history"]), int(state["epoch"])
    run_dir.mkdir(parents=True, exist_ok=True)
    net = model
    if dist.world_size > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
    plot = _PlotPace()

    for epoch in range(start_epoch, tc.epochs):
        started = time.perf_counter()
        torch.manual_seed(_epoch_seed(tc.seed, epoch) + dist.rank)  # dropout, offset by rank
        batches = epoch_batches(labels, tc.batch_size, _epoch_seed(tc.seed, epoch), tc.balanced)
        shares = [batch[dist.rank :: dist.world_size] for batch in batches]  # this process's bags
        loader = torch.utils.data.DataLoader(
            dataset, batch_sampler=shares, collate_fn=collate_bags, num_workers=workers,
            pin_memory=device.type == "cuda", persistent_workers=False,
        )
        net.train()
        observer.started(epoch + 1, len(batches))
        sums: dict[str, float] = {}
        for feats, mask, y in loader:
            feats = feats.to(device, non_blocking=True)  # (B, L, D)
            mask, y = mask.to(device), y.to(device)
            out = net(feats, mask)
            loss, parts = total_loss(out.scores, out.embeddings, mask, y, config.loss, dist)
            if not math.isfinite(parts["total"]):
                largest = float(feats.abs().max())
                if not math.isfinite(largest) or largest > FEATURE_OVERFLOW:
                    raise VadpipeError(
                        f"training gives scores that are not numbers at epoch {epoch + 1}: the features reach "
                        f"{largest:.3g}, past what the scorer's float32 arithmetic holds (features of a backbone "
                        "stay far below 1e4); re-extract them, or check the files they came from")
                raise VadpipeError(f"lr {tc.lr:g}: training diverged at epoch {epoch + 1} (loss {parts['total']}); "
                                   "lower it", param="lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            observer.advanced(1)
        record = {"epoch": epoch + 1, **{f"loss_{k}": v / len(batches) for k, v in sums.items()},
                  "lr": scheduler.get_last_lr()[0]}
        config.epochs_done = epoch + 1
        keep = validation is None
        if validation is not None and dist.is_main:
            model.eval()
            result = evaluate(model, validation.videos, validation.ground_truth)
            record.update({f"val_{k}": v for k, v in result.metrics.items()})
            value = result.metrics.get(config.metric)
            if value is not None and (config.best_metric is None or value > config.best_metric):
                keep = True
                config.best_epoch, config.best_metric = epoch + 1, value
                config.threshold, f1 = best_f1_threshold(result.scores, result.labels)
                config.threshold_source = f"max frame F1 ({f1:.3f}) on validation, epoch {epoch + 1}"
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        if dist.is_main:
            if keep:
                if validation is None:
                    config.best_epoch = epoch + 1
                save_run(run_dir, model, config)
            else:
                write_json(run_dir / CONFIG_NAME, config.to_dict())
            _save_checkpoint(ckpt_path, model, optimizer, scheduler, epoch + 1, history, config)
            write_text(run_dir / METRICS_NAME, "".join(_json_line(r) for r in history))
            if plot.due(last=epoch + 1 == tc.epochs):
                plot.draw(run_dir, history, config.best_epoch)
            observer.event("epoch", {"epoch": epoch + 1, "epochs": tc.epochs, "metrics": record})
        dist.barrier()  # nobody starts the next epoch before its checkpoint exists
    return config


class _PlotPace:
    """When to redraw ``training.png``: after the first and the last epoch, and in between once the
    time since the last drawing is 20 times what that drawing took (a drawing takes about 0.3 s:
    after each of a real run's epochs, but not 100 times over a demo's 8-second training)."""

    COST_SHARE = 0.05

    def __init__(self) -> None:
        self.ended: float | None = None
        self.took = 0.0

    def due(self, *, last: bool) -> bool:
        return last or self.ended is None or time.perf_counter() - self.ended >= self.took / self.COST_SHARE

    def draw(self, run_dir: Path, history: list[dict], best_epoch: int | None) -> None:
        started = time.perf_counter()
        plot_training(run_dir, history, best_epoch)
        self.ended = time.perf_counter()
        self.took = self.ended - started


def _json_line(record: dict) -> str:
    return strict_json(record) + "\n"


def _save_checkpoint(path: Path, model, optimizer, scheduler, epoch: int, history: list, config: RunConfig) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "history": history,
        "config": config.to_dict(),
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a torn or foreign file: say so in one line
        raise VadpipeError(f"{path}: cannot be read ({str(exc).splitlines()[0]}); start a new run") from exc
