"""One training epoch at UCF-Crime scale: 16,100 bags (1,610 videos x 10 crops) x 200 snippets x 2048-d.

    python bench/train_epoch.py                      # the full epoch (about 10+ minutes on 2 CPU cores)
    python bench/train_epoch.py --bags 1024          # measure on fewer bags, extrapolate to 16,100
    python bench/train_epoch.py --device cuda

Features are synthetic: a pool of videos held in memory (UCF-like lengths) that the
16,100 bags map onto, so uniform sampling to 200 and collation cost what they cost
for real. Printed: epoch time (measured and extrapolated), bags/s, peak memory, and
the ratio of the full loop's throughput to the model's own forward + backward +
Adam step on one batch already in memory (1.0 = data handling costs nothing).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from vadpipe.model.config import get_preset
from vadpipe.model.losses import total_loss
from vadpipe.model.scorer import AnomalyScorer
from vadpipe.train.data import collate_bags, epoch_batches, uniform_sample_indices

UCF_BAGS = 16_100


class SyntheticBags(torch.utils.data.Dataset):
    """``bags`` bags over a pool of in-memory videos; half abnormal."""

    def __init__(self, bags: int, dim: int, seq_len: int, pool: int = 32, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.videos = [rng.standard_normal((int(rng.integers(300, 1500)), dim), dtype=np.float32) for _ in range(pool)]
        self.labels = (np.arange(bags) % 2).astype(np.int64)
        self.seq_len = seq_len

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key):
        bag, seed = key
        video = self.videos[bag % len(self.videos)]
        idx = uniform_sample_indices(len(video), self.seq_len, np.random.default_rng(seed))
        feats = np.zeros((self.seq_len, video.shape[1]), dtype=np.float32)
        feats[: len(idx)] = video[idx]
        return feats, len(idx), int(self.labels[bag])


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bags", type=int, default=UCF_BAGS)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--compute-steps", type=int, default=3, help="steps for the compute-only baseline")
    args = parser.parse_args()
    device = torch.device(args.device)
    preset = get_preset("ucf")
    torch.manual_seed(0)
    model = AnomalyScorer(preset.scorer).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=preset.train.lr)
    data = SyntheticBags(args.bags, preset.scorer.feature_dim, preset.train.seq_len)
    batches = epoch_batches(data.labels, args.batch_size, seed=0, balanced=True)

    def step(feats, mask, labels):
        out = model(feats, mask)
        loss, _ = total_loss(out.scores, out.embeddings, mask, labels, preset.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    # Baseline: the model's own step on one batch already on the device.
    feats, mask, labels = (t.to(device) for t in collate_bags([data[k] for k in batches[0]]))
    step(feats, mask, labels)  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(args.compute_steps):
        step(feats, mask, labels)
    sync()
    compute_bags_per_s = args.compute_steps * len(batches[0]) / (time.perf_counter() - start)

    loader = torch.utils.data.DataLoader(data, batch_sampler=batches, collate_fn=collate_bags,
                                         num_workers=args.workers, pin_memory=device.type == "cuda")
    start = time.perf_counter()
    seen = 0
    for feats, mask, labels in loader:
        step(feats.to(device, non_blocking=True), mask.to(device), labels.to(device))
        seen += len(labels)
    sync()
    seconds = time.perf_counter() - start
    bags_per_s = seen / seconds
    print(f"device {device}, torch threads {torch.get_num_threads()}, batch {args.batch_size}, "
          f"{len(batches)} steps over {seen} bag draws (200 x 2048 each)")
    print(f"epoch time: {seconds:.1f} s measured; {UCF_BAGS / bags_per_s:.1f} s extrapolated to {UCF_BAGS:,} bags")
    print(f"throughput: {bags_per_s:.1f} bags/s (full loop) vs {compute_bags_per_s:.1f} bags/s (compute only)")
    print(f"ratio full/compute: {bags_per_s / compute_bags_per_s:.2f}")
    print(f"peak memory: {peak_mb(device):.0f} MB ({'GPU allocated' if device.type == 'cuda' else 'max RSS'})")


if __name__ == "__main__":
    main()
