"""Seconds until `vadpipe --help` (and the other paths that must answer at once) have printed, against a
bare `python -c pass` measured in the same run, on the same machine.

`--help`, `CMD --help` and a usage error import no torch / torchvision / matplotlib / sklearn
(tests/test_cli_startup.py checks that by `sys.modules`); this prints how long they take.

    python bench/cli_startup.py              # 5 repeats each, median
    python bench/cli_startup.py --repeats 11
    python bench/cli_startup.py --repo /path/to/other/checkout   # the same paths of another vadpipe tree
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PATHS = {
    "python -c pass": ["-c", "pass"],
    "vadpipe --help": ["-m", "vadpipe", "--help"],
    "vadpipe extract --help": ["-m", "vadpipe", "extract", "--help"],
    "vadpipe score --help": ["-m", "vadpipe", "score", "--help"],
    "vadpipe train --bogus (usage error)": ["-m", "vadpipe", "train", "--bogus"],
    "import torch (for scale)": ["-c", "import torch"],
}


def seconds(args: list[str], repo: Path) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--repo", type=Path, default=REPO, help="the vadpipe checkout to time (default: this one)")
    args = parser.parse_args(argv)
    times: dict[str, list[float]] = {name: [] for name in PATHS}
    for _ in range(args.repeats):  # interleaved, so that every path sees the same machine
        for name, cmd in PATHS.items():
            times[name].append(seconds(cmd, args.repo))
    base = statistics.median(times["python -c pass"])
    print(f"{args.repo}: median of {args.repeats} runs each; machine load (1-min) {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores (a shared machine makes these noisy)")
    print(f"{'command':<40} {'seconds':>8} {'x bare python':>14}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<40} {median:>8.3f} {median / base:>14.1f}")


if __name__ == "__main__":
    main()
