#!/usr/bin/env bash
# The GPU figures for docs/performance.md in one run (prepared for a lent CUDA machine).
#
#   bash bench/gpu_report.sh [OUTDIR]      # writes OUTDIR/*.txt; each step is capped at 120 s
#
# Not run yet: no GPU has been lent to this project so far, so its run time is unmeasured.
#
# Extract throughput (pipeline vs backbone-only forward) for the three backbones at 1 and
# 10 crops in bf16 (with the bf16-vs-fp32 cosine check) and in fp32, one UCF-Crime-scale
# training epoch measured on 4,096 bags and extrapolated, and the attention scaling.
# Random-init weights: throughput does not depend on the weights' values.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-bench-gpu}}"
mkdir -p "$out"
run() {  # run NAME CMD...: one line on the console, the whole output in OUTDIR/NAME.txt
  local name="$1"; shift
  echo "== $name: $*"
  if timeout 120 "$@" >"$out/$name.txt" 2>&1; then tail -n 4 "$out/$name.txt"
  else echo "   failed or timed out (rc $?), see $out/$name.txt"; tail -n 3 "$out/$name.txt"; fi
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"
for backbone in i3d_r50 resnet3d inception_i3d; do
  for crops in 1 10; do
    run "extract-$backbone-c$crops-bf16" python bench/extract.py --device cuda --backbone "$backbone" \
      --crops "$crops" --videos 8 --frames 480 --precision bf16 --repeats 1
    run "extract-$backbone-c$crops-fp32" python bench/extract.py --device cuda --backbone "$backbone" \
      --crops "$crops" --videos 8 --frames 480 --precision fp32 --repeats 1
  done
done
run train-epoch python bench/train_epoch.py --device cuda --bags 4096
run attention python bench/attention.py --device cuda --lengths 200 2000 20000
# Live scoring: how many 25 fps 320x240 streams one process sustains on the GPU (resnet3d, 1 crop, 112 and 224).
run watch-streams python bench/watch.py --part streams --device cuda --sizes 112 224 --seconds 8 --max-streams 64
