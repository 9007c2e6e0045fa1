"""Scoring one video of T snippets: linear-memory LA-Net (SDPA + Gaussian conv) against the dense T x T form.

    python bench/attention.py                 # T = 200, 2,000, 20,000 at UCF-Crime size (D=2048, D_h=512)
    python bench/attention.py --lengths 200 2000 --device cuda

Each (T, form) runs in its own subprocess so peak memory (CPU: max RSS; CUDA:
max allocated) is measured cleanly. The dense form is skipped where its T x T maps
would not fit in the memory available; the estimate is printed instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

PROBE = r"""
import json, resource, sys, time, torch
from vadpipe.model.config import get_preset
from vadpipe.model.scorer import AnomalyScorer
t, form, device, threads = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.set_num_threads(threads)
cfg = get_preset("ucf").scorer
cfg.attention = form
model = AnomalyScorer(cfg).to(device).eval()
x = torch.randn(1, t, cfg.feature_dim, device=device)
with torch.inference_mode():
    model(x[:, :16])  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    model(x)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
peak = (torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda")
        else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
print(json.dumps({"seconds": seconds, "peak_mb": peak}))
"""


def dense_bytes(t: int, heads: int = 4) -> float:
    """Rough peak of the dense form: logits, softmax, prior and A + G maps."""
    return 3.2 * heads * t * t * 4


def available_bytes() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable"):
                return float(line.split()[1]) * 1024
    return float("inf")


def run(t: int, form: str, device: str, threads: int) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, str(t), form, device, str(threads)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[200, 2_000, 20_000])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    budget = 0.7 * available_bytes() if args.device == "cpu" else float("inf")
    print(f"LA-Net forward, UCF-Crime preset (D=2048, D_h=512, 4 heads), batch 1, device {args.device}")
    print(f"{'T':>7} | {'linear s':>9} {'linear MB':>10} | {'dense s':>9} {'dense MB':>10} | "
          f"{'time x':>7} {'mem x':>7}")
    for t in args.lengths:
        lin = run(t, "linear", args.device, args.threads)
        if dense_bytes(t) > budget:
            den = {"error": f"not run: needs ~{dense_bytes(t) / 2**30:.0f} GB"}
        else:
            den = run(t, "dense", args.device, args.threads)
        if "error" in den or "error" in lin:
            print(f"{t:>7} | {lin.get('seconds', float('nan')):>9.3f} {lin.get('peak_mb', float('nan')):>10.0f} | "
                  f"{den.get('error', lin.get('error'))}")
            continue
        print(f"{t:>7} | {lin['seconds']:>9.3f} {lin['peak_mb']:>10.0f} | {den['seconds']:>9.3f} "
              f"{den['peak_mb']:>10.0f} | {den['seconds'] / lin['seconds']:>6.1f}x "
              f"{den['peak_mb'] / max(lin['peak_mb'], 1):>6.1f}x")
    print("time x / mem x: dense divided by linear (higher = the linear form wins by that factor)")


if __name__ == "__main__":
    main()
