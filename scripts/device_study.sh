#!/usr/bin/env bash
# The decisive experiment on one GPU, in minutes: the prepared accelerator run.
#
#   bash scripts/device_study.sh prepare            # here, once: the FID network for the GPU machine
#   bash scripts/device_study.sh run OUT [PRESET]   # there (or anywhere): the experiment, files into OUT
#
# `run` trains and scores the central comparison of figures/design.json (primps_core.study.decisive)
# at PRESET (default gpu-short: 64 px, twice the cpu preset's width, five pretraining seeds of
# Primitives-PS, three of natural-image pretraining, five scratch seeds, 2,000 FID samples), on
# DEVICE (default cuda), with its runs under RUNS (default /tmp/primps-runs), writing into OUT as the
# runs finish: decisive_pretrain_curves.csv, decisive_transfer_curves.csv, claims.csv,
# 04_decisive_curves.png, 04_decisive_samples.png, plus device.txt (machine, versions, wall time) and
# log.txt. Seven files, so everything comes back from a machine that returns at most eight.
#
# The GPU machine has PyTorch but not this project's environment, and the working tree sent there
# is limited to 64 MiB, which the stock FID Inception file (83 MiB) exceeds. `prepare` stores the
# same network with its weights rounded to float16 (43 MB) at WEIGHTS (default
# .device/inception-fp16.pt, ignored by git; carry .device along); `run` uses it when it exists
# (PRIMPS_INCEPTION), cast back to float32: FID and KID then differ from the stock network's by
# well under a percent (benchmarks/results/half_inception.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
WEIGHTS=${WEIGHTS:-.device/inception-fp16.pt}

case "${1:-}" in
  prepare)
    mkdir -p "$(dirname "$WEIGHTS")"
    "$PYTHON" -c "import sys; from primps_core.eval import metrics; print(metrics.save_half_precision_inception(sys.argv[1]))" "$WEIGHTS"
    ;;
  run)
    OUT=${2:?usage: scripts/device_study.sh run OUT [PRESET]}
    PRESET=${3:-gpu-short}
    mkdir -p "$OUT"
    if [ -f "$WEIGHTS" ]; then export PRIMPS_INCEPTION=$WEIGHTS; fi
    {
      echo "started $(date -u +%Y-%m-%dT%H:%M:%SZ) preset $PRESET device ${DEVICE:-cuda} weights ${PRIMPS_INCEPTION:-stock}"
      "$PYTHON" -c "import torch, numpy, numba; print('torch', torch.__version__, 'numpy', numpy.__version__, 'numba', numba.__version__); print('gpu', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none')"
      nproc | sed 's/^/cpu cores /'
    } > "$OUT/device.txt"
    SECONDS=0
    PYTHONUNBUFFERED=1 "$PYTHON" -m primps_core decisive --preset "$PRESET" --device "${DEVICE:-cuda}" \
        --out "$OUT" --runs "${RUNS:-/tmp/primps-runs}" 2>&1 | tee "$OUT/log.txt"
    echo "finished $(date -u +%Y-%m-%dT%H:%M:%SZ) wall_s $SECONDS" >> "$OUT/device.txt"
    ;;
  *)
    echo "usage: scripts/device_study.sh prepare | run OUT [PRESET]" >&2
    exit 2
    ;;
esac
