"""The demo's held-out frame AUC per seed, as a fresh install prints it (the figures quoted in README.md).

    python bench/demo_auc.py            # seeds 0 1 2, one `vadpipe demo --json` run each
    python bench/demo_auc.py 0 0        # a seed twice: the demo is deterministic on one build
    # the backbone on another engine or precision, for extract and score alike (run_demo in this process)
    python bench/demo_auc.py --engine openvino --precision int8            # seeds 0 1 2 with int8 features
    python bench/demo_auc.py 0 --engine openvino --precision int8 --videos 4 --epochs 20   # short

Prints one line per run and the build it ran on (vadpipe, torch, CPU), so the README can say which.
Each run takes about a minute on 2 idle CPU cores.

With ``--engine`` or ``--precision`` the demo runs in this process
(``vadpipe.demo.run.run_demo(..., forward=ForwardOptions(engine=..., precision=...))``; the
`vadpipe demo` command has no such options). int8 is calibrated on the training videos for
extract and score alike, so the run is trained on int8 features and scored with the same
quantized model (quantized on the first run of a seed, cached in $VADPIPE_HOME/engines).
Each line then also says whether int8 was accepted: the training features' spec flag
``int8``, the precision the scores record, and the check's min cosine (int8 against fp32 on
held-out calibration snippets). ``--videos`` and ``--epochs`` are `vadpipe demo`'s own options.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    import torch

    import vadpipe
    from vadpipe.core.forward import PRECISION_NAMES
    from vadpipe.engines import ENGINES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds", type=int, nargs="*", default=[0, 1, 2], help="demo seeds, one run each")
    parser.add_argument("--engine", choices=ENGINES, default=None, help="backbone engine (runs the demo in process)")
    parser.add_argument("--precision", choices=PRECISION_NAMES, default=None,
                        help="backbone precision (runs the demo in process); int8 calibrates on the training videos")
    parser.add_argument("--videos", type=int, default=None, help="training videos per class (default: the demo's)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's)")
    args = parser.parse_args(argv)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"build: vadpipe {vadpipe.__version__} ({commit or 'not a git checkout'}), torch {torch.__version__}, "
          f"python {platform.python_version()}, {platform.machine()}, {torch.get_num_threads()} threads")
    in_process = args.engine is not None or args.precision is not None
    if in_process:
        print(f"backbone: engine {args.engine or 'torch'}, precision {args.precision or 'auto'} (run_demo in process)")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as out:
            if in_process:
                auc, extra = _in_process(Path(out), seed, args)
            else:
                auc, extra = _subprocess(out, seed, args), ""
        print(f"seed {seed}: held-out frame AUC {auc:.3f}{extra}")


def _subprocess(out: str, seed: int, args) -> float:
    sizes = [*(["--videos", str(args.videos)] if args.videos else []),
             *(["--epochs", str(args.epochs)] if args.epochs else [])]
    done = subprocess.run([sys.executable, "-m", "vadpipe", "demo", "--out", out, "--seed", str(seed),
                           "--device", "cpu", "--json", *sizes], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["frame_auc"]


def _in_process(out: Path, seed: int, args) -> tuple[float, str]:
    """(held-out frame AUC, what int8 did) of the demo run here with the engine and precision asked."""
    from vadpipe.core.forward import ForwardOptions
    from vadpipe.demo.run import DemoSettings, run_demo
    from vadpipe.features.formats import load_feature_set

    sizes = {**({"train_normal": args.videos, "train_abnormal": args.videos} if args.videos else {}),
             **({"epochs": args.epochs} if args.epochs else {})}
    forward = ForwardOptions(device="cpu", engine=args.engine or "torch", precision=args.precision or "auto")
    result = run_demo(out, DemoSettings(seed=seed, **sizes), device="cpu", forward=forward)
    videos, _ = load_feature_set(out / "features" / "train")
    record = videos[0].record
    made, scored = record.extra.get("int8_check"), result.example.get("int8_check")
    figure = f", check min cosine {(made or scored)['min_cosine']:.6f}" if made or scored else ""
    same = "; one quantized model for both (the same check)" if made and made == scored else ""
    return result.frame_auc, (f"  [training features: precision {record.precision}, spec int8 {record.spec.int8}; "
                              f"scores: precision {result.example.get('precision')}{figure}{same}]")


if __name__ == "__main__":
    main()
