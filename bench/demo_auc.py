"""The demo's held-out frame AUC per seed, as a fresh install prints it (the figures quoted in README.md).

    python bench/demo_auc.py            # seeds 0 1 2, one `vadpipe demo --json` run each
    python bench/demo_auc.py 0 0        # a seed twice: the demo is deterministic on one build

Prints one line per run and the build it ran on (vadpipe, torch, CPU), so the README can say which.
Each run takes about a minute on 2 idle CPU cores.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile


def main(seeds: list[int]) -> None:
    import torch

    import vadpipe

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"build: vadpipe {vadpipe.__version__} ({commit or 'not a git checkout'}), torch {torch.__version__}, "
          f"python {platform.python_version()}, {platform.machine()}, {torch.get_num_threads()} threads")
    for seed in seeds:
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run([sys.executable, "-m", "vadpipe", "demo", "--out", out, "--seed", str(seed),
                                   "--device", "cpu", "--json"], capture_output=True, text=True, check=True)
        result = json.loads(done.stdout)
        print(f"seed {seed}: held-out frame AUC {result['frame_auc']:.3f}")


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [0, 1, 2])
