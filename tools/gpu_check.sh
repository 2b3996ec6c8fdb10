#!/usr/bin/env bash
# The lesson on a GPU machine, and the figures: accuracy, seconds, images/s and which GPU.
# Three parts, most telling first, so that a run cut short still has the figures that matter:
#   fast    notebook 6 as airbench94_muon trains (widths 64,256,256, batch 2000, 8 epochs, rate 0.24)
#   bench   benchmarks/bench_fast_net.py there: training steps (also under torch.compile) and the loader
#   lesson  notebooks 01-05 with device="auto" (the GPU, found by torch.accelerator)
# Run from the lesson's top folder with CIFAR-10 in ./data (or DATA=/path/to/it). Tested on the CPU path by
# tests/test_notebooks.py (where CUDA is missing it runs on the CPU and says so).
#
#     bash tools/gpu_check.sh                 # all three parts, in that order
#     bash tools/gpu_check.sh fast            # one part
#     EPOCHS=1 FAST_EPOCHS=1 BENCH_ROUNDS=1 bash tools/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
OUT=${OUT_DIR:-runs/gpu-check}
PARTS=("$@")
[ ${#PARTS[@]} -gt 0 ] || PARTS=(fast bench lesson)
for part in "${PARTS[@]}"; do
    case $part in fast|bench|lesson) ;; *) echo "gpu_check.sh: unknown part '$part': give fast, bench or lesson." >&2
                                          exit 2 ;; esac
done
# One Python start for both: the flags bench passes on a GPU, then the line that says which GPU.
TORCH=$($PY -c "import torch; gpu = torch.cuda.is_available(); print('--cuda --compile' if gpu else '-')
print('GPU:', torch.cuda.get_device_name(0) if gpu else 'none (CPU)', '| torch', torch.__version__)")
CUDA_FLAGS=${TORCH%%$'\n'*}
[ "$CUDA_FLAGS" != - ] || CUDA_FLAGS=
echo "${TORCH#*$'\n'}"

fast() {
    $PY -m cifar_helpers.run --cuda --only 06 --data-dir "${DATA:-data}" --out "$OUT/fast-track" \
        --fast-epochs "${FAST_EPOCHS:-8}" --widths "${WIDTHS:-64,256,256}" --fast-batch-size "${FAST_BATCH_SIZE:-2000}" \
        --fast-learning-rate "${FAST_LEARNING_RATE:-0.24}" ${EXTRA:-}
    $PY - "$OUT/fast-track/fast_track.json" <<'PY'
import json, sys
f = json.loads(open(sys.argv[1]).read())
print(f"notebook 06: test accuracy {f['test_accuracy']:.2%} (one view {f['one_view_test_accuracy']:.2%}) after "
      f"{f['train_seconds']:.1f} s of training on {f['device']}, widths {f['widths']}, batch {f['batch_size']}, "
      f"{f['epochs']} epoch{'s' * (f['epochs'] != 1)} ({f['train_seconds'] / f['epochs']:.2f} s each)")
for row in f["table"]:
    print(f"  {row['step']:<48} {row['test_accuracy']:7.2%} {row['train_seconds']:8.1f} s")
PY
}

bench() {
    $PY benchmarks/bench_fast_net.py --widths "${WIDTHS:-64,256,256}" --compare ${BENCH_COMPARE:-32,96,192 128,384,384} \
        --seconds "${BENCH_SECONDS:-3}" --rounds "${BENCH_ROUNDS:-2}" --loader-batch "${FAST_BATCH_SIZE:-2000}" \
        $CUDA_FLAGS
}

lesson() {
    $PY -m cifar_helpers.run --device auto --only ${LESSON:-01 02 03 04 05} --data-dir "${DATA:-data}" --out "$OUT/lesson" \
        --epochs "${EPOCHS:-10}" --batch-size "${BATCH_SIZE:-256}" ${LESSON_EXTRA:-}
    $PY - "$OUT/lesson/metrics.json" <<'PY'
import json, sys
from pathlib import Path
m = Path(sys.argv[1])
if m.is_file():  # notebook 05 writes it
    m = json.loads(m.read_text())
    print(f"notebooks 04-05: test accuracy {m['test_accuracy']:.2%}, {m['epochs_trained']} epochs, "
          f"{m['seconds_per_epoch']:.1f} s per epoch, {m['images_per_second']:,.0f} images/s")
PY
}

for part in "${PARTS[@]}"; do
    echo "== $part"
    "$part"
done
