"""Training bags: every crop of every video is one bag, uniformly subsampled or zero-padded to a fixed length."""

from __future__ import annotations

import numpy as np
import torch

from vadpipe.errors import InputError
from vadpipe.features.formats import FeatureVideo


def uniform_sample_indices(length: int, target: int, rng: np.random.Generator | None) -> np.ndarray:
    """Indices that subsample a bag of ``length`` snippets to ``target`` (Wu et al. / the paper's §3.2).

    The bag is cut into ``target`` equal segments and one snippet is taken from each:
    a random one when ``rng`` is given (training), the first one otherwise.
    Bags no longer than ``target`` keep every snippet (they are zero-padded later).
    """
    if length <= target:
        return np.arange(length)
    bounds = np.linspace(0, length, target + 1).astype(np.int64)  # (target + 1,)
    starts, ends = bounds[:-1], np.maximum(bounds[1:], bounds[:-1] + 1)
    if rng is None:
        return starts
    return starts + (rng.random(target) * (ends - starts)).astype(np.int64)


class BagSet(torch.utils.data.Dataset):
    """Bags (video, crop) of a feature set; item = (features (L, D) float32, length, label).

    Items are addressed by ``(bag_index, seed)`` so the snippets sampled depend only on
    the seed, not on worker processes or how many epochs ran before a resume.
    """

    def __init__(self, videos: list[FeatureVideo], seq_len: int):
        self.videos = videos
        self.seq_len = seq_len
        self.crops = [v.open() for v in videos]  # memory maps, (T, D) each
        self.bags = [(vi, c) for vi, crops in enumerate(self.crops) for c in range(len(crops))]
        self.labels = np.array([videos[vi].label for vi, _ in self.bags], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.bags)

    def __getitem__(self, key: tuple[int, int]) -> tuple[np.ndarray, int, int]:
        bag, seed = key
        vi, crop = self.bags[bag]
        source = self.crops[vi][crop]  # (T, D) memmap
        idx = uniform_sample_indices(source.shape[0], self.seq_len, np.random.default_rng(seed))
        feats = np.zeros((self.seq_len, source.shape[1]), dtype=np.float32)  # (L, D)
        feats[: len(idx)] = source[idx]  # only these rows are read from disk
        return feats, len(idx), int(self.labels[bag])


def require_both_classes(labels: np.ndarray) -> None:
    """Raises InputError unless the bags' labels hold both classes (the ranking loss compares them)."""
    labels = np.asarray(labels)
    if not ((labels == 0).any() and (labels == 1).any()):
        raise InputError("training needs both abnormal (label 1) and normal (label 0) videos; check the labels")


def feature_statistics(dataset: BagSet, floor: float = 1e-2) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std (each (D,) float32) over every snippet of every bag.

    Streams the memory maps in float64. A dimension that hardly varies (a dead unit of a
    backbone) gets its std raised to ``floor`` times the mean std, so that it is not blown up.
    """
    total, total_sq, count = 0.0, 0.0, 0
    for crops in dataset.crops:  # (C, T, D) each
        for crop in crops:
            block = np.asarray(crop, dtype=np.float64)  # (T, D)
            total = total + block.sum(0)
            total_sq = total_sq + np.square(block).sum(0)
            count += block.shape[0]
    if count == 0:
        raise ValueError("no snippets to take statistics from")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - np.square(mean), 0.0))
    std = np.maximum(std, floor * std.mean() if std.mean() > 0 else 1.0)
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))


def collate_bags(items) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> features (B, L, D), mask (B, L) bool, labels (B,)."""
    feats = torch.from_numpy(np.stack([f for f, _, _ in items]))
    lengths = torch.tensor([n for _, n, _ in items])
    mask = torch.arange(feats.shape[1])[None, :] < lengths[:, None]
    return feats, mask, torch.tensor([y for _, _, y in items])


def epoch_batches(labels: np.ndarray, batch_size: int, seed: int, balanced: bool) -> list[list[tuple[int, int]]]:
    """The batches of one epoch as lists of ``(bag_index, sample_seed)``.

    Balanced: every batch holds half abnormal and half normal bags; an epoch is one pass
    over the larger class and the smaller one is re-drawn as needed (the ranking loss
    needs both in each batch). Otherwise: one shuffled pass over all bags.
    """
    rng = np.random.default_rng(seed)
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if not balanced or len(positive) == 0 or len(negative) == 0:
        order = rng.permutation(len(labels))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    else:
        half = max(1, batch_size // 2)
        steps = int(np.ceil(max(len(positive), len(negative)) / half))
        pos = _cycled_permutation(positive, steps * half, rng)
        neg = _cycled_permutation(negative, steps * half, rng)
        batches = [np.concatenate([pos[i * half : (i + 1) * half], neg[i * half : (i + 1) * half]])
                   for i in range(steps)]
    sample_seeds = rng.integers(0, 2**31 - 1, size=sum(len(b) for b in batches))
    out, n = [], 0
    for b in batches:
        out.append([(int(i), int(s)) for i, s in zip(b, sample_seeds[n : n + len(b)], strict=True)])
        n += len(b)
    return out


def _cycled_permutation(items: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    reps = int(np.ceil(count / len(items)))
    return np.concatenate([rng.permutation(items) for _ in range(reps)])[:count]
