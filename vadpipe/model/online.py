"""Scoring a stream one snippet at a time, with the numbers the banded model gives a whole file.

For snippet t, LA-Net attends over snippets t-W+1 .. t+L (``ScorerConfig.window`` /
``lookahead``), so score t is ready once snippet t+L has arrived. The keys and values of
the last W+L snippets stay cached (each snippet is projected once), so a snippet costs
O(W) whatever the stream's length; the causal conv keeps its last K-1 embeddings (zeros
before the first snippet, as the offline left padding). Memory is bounded by W + L + K.

Exactness: ``OnlineScorer`` on a stream equals ``AnomalyScorer.score_video`` on the same
features with the same band (tests/test_online.py, to 1e-5).
"""

from __future__ import annotations

from collections import deque

import torch
import torch.nn.functional as F

from vadpipe.model.scorer import AnomalyScorer


class OnlineScorer:
    """Push one snippet's (C, D) features at a time; get back the scores that became final.

    Args:
        model: a scorer in eval mode whose config has ``window`` > 0 (:meth:`AnomalyScorer.set_band` sets one).
    """

    def __init__(self, model: AnomalyScorer):
        cfg = model.cfg
        if not cfg.window:
            raise ValueError("online scoring needs a banded model (window > 0)")
        self.model = model
        self.window, self.lookahead = cfg.window, cfg.lookahead
        att = model.lanet
        taps, back = att.prior_taps()
        self._taps = taps if cfg.use_prior else None  # prior weights over offsets -back .. +ahead
        self._back = back
        self._scale = att.head_dim**-0.5 if cfg.scaled_attention else 1.0
        self._x: deque[torch.Tensor] = deque(maxlen=self.lookahead + 1)  # inputs of the pending queries
        self._q: deque[torch.Tensor] = deque(maxlen=self.lookahead + 1)
        self._k: deque[torch.Tensor] = deque(maxlen=self.window + self.lookahead)  # (C, k, dh) each
        self._v: deque[torch.Tensor] = deque(maxlen=self.window + self.lookahead)
        self._history: deque[torch.Tensor] = deque(maxlen=max(cfg.conv_kernel - 1, 0))  # (C, F) embeddings
        self.pushed = 0  # snippets received
        self.emitted = 0  # scores handed out (the next score is for snippet ``emitted``)

    @torch.inference_mode()
    def push(self, features: torch.Tensor) -> list[tuple[int, float]]:
        """Add snippet ``pushed``'s features, (C, D) or (D,); returns [(snippet index, score)] now final."""
        att = self.model.lanet
        x = features.reshape(-1, features.shape[-1]).to(self._device(), torch.float32)  # (C, D)
        if self.model.cfg.standardize:
            x = (x - self.model.input_mean) / self.model.input_std
        c = x.shape[0]
        self._x.append(x)
        self._q.append(att.phi(x).view(c, att.heads, att.head_dim))  # (C, k, dh)
        self._k.append(att.psi(x).view(c, att.heads, att.head_dim))
        self._v.append(att.value(x).view(c, att.heads, att.head_dim))
        self.pushed += 1
        if self.pushed - self.emitted > self.lookahead:
            return [self._emit()]
        return []

    @torch.inference_mode()
    def flush(self) -> list[tuple[int, float]]:
        """The stream ended: the last L scores, each with the lookahead that exists (as at a file's end)."""
        return [self._emit() for _ in range(self.pushed - self.emitted)]

    def _device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _emit(self) -> tuple[int, float]:
        att, model = self.model.lanet, self.model
        t = self.emitted
        held = len(self._k)  # keys cached: snippets pushed-held .. pushed-1
        first = self.pushed - held
        lo = max(first, t - self.window + 1)
        keys = torch.stack(list(self._k)[lo - first :], dim=1)  # (C, K, k, dh)
        values = torch.stack(list(self._v)[lo - first :], dim=1)
        pending = self.pushed - t  # queries not yet emitted, oldest is t
        x = self._x[len(self._x) - pending]  # (C, D)
        q = self._q[len(self._q) - pending]  # (C, k, dh)
        logits = torch.einsum("chd,cnhd->chn", q, keys) * self._scale  # (C, k, K)
        context = torch.einsum("chn,cnhd->chd", logits.softmax(dim=-1), values)  # (C, k, dh)
        if self._taps is not None:
            offsets = torch.arange(lo - t, lo - t + keys.shape[1], device=keys.device)  # j - t per key
            inside = (offsets >= -self._back) & (offsets < self._taps.numel() - self._back)
            weights = torch.zeros(keys.shape[1], device=keys.device, dtype=values.dtype)
            weights[inside] = self._taps[offsets[inside] + self._back].to(values.dtype)
            context = context + torch.einsum("n,cnhd->chd", weights, values)
        c = x.shape[0]
        mixed = att.norm(att.out(context.reshape(c, att.heads * att.head_dim)) + x)  # (C, D)
        embedding = model.mlp(mixed)  # (C, F)
        kernel = model.cfg.conv_kernel
        past = list(self._history)
        zeros = [torch.zeros_like(embedding)] * (kernel - 1 - len(past))
        window = torch.stack([*zeros, *past, embedding], dim=2)  # (C, F, K)
        score = torch.sigmoid(F.conv1d(window, model.causal_conv.weight, model.causal_conv.bias))  # (C, 1, 1)
        if kernel > 1:
            self._history.append(embedding)
        self.emitted += 1
        return t, float(score.mean())

