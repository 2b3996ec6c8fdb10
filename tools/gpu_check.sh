#!/usr/bin/env bash
# The whole lesson with cuda=True on a GPU machine, notebook 6 as airbench94_muon trains (widths
# 64,256,256, batch 2000, 8 epochs), then the figures: accuracy, seconds, images/s and which GPU,
# and benchmarks/bench_fast_net.py's speeds there: training steps (also under torch.compile) and the loader.
# Run from the lesson's top folder with CIFAR-10 in ./data (or DATA=/path/to/it). Tested on the CPU path by
# tests/test_notebooks.py (where CUDA is missing it runs on the CPU and says so).
#
#     bash tools/gpu_check.sh                 # everything
#     EPOCHS=1 FAST_EPOCHS=1 bash tools/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
OUT=${OUT_DIR:-runs/gpu-check}
$PY -c "import torch; print('GPU:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none (CPU)')"
$PY -m cifar_helpers.run --cuda --data-dir "${DATA:-data}" --out "$OUT" --epochs "${EPOCHS:-10}" \
    --batch-size "${BATCH_SIZE:-256}" --fast-epochs "${FAST_EPOCHS:-8}" --widths "${WIDTHS:-64,256,256}" \
    --fast-batch-size "${FAST_BATCH_SIZE:-2000}" --fast-learning-rate "${FAST_LEARNING_RATE:-0.24}" ${EXTRA:-}
$PY - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
if (out / "metrics.json").is_file():
    m = json.loads((out / "metrics.json").read_text())
    print(f"notebooks 04-05: test accuracy {m['test_accuracy']:.2%}, {m['epochs_trained']} epochs, "
          f"{m['seconds_per_epoch']:.1f} s per epoch, {m['images_per_second']:,.0f} images/s")
f = json.loads((out / "fast_track.json").read_text())
print(f"notebook 06: test accuracy {f['test_accuracy']:.2%} (one view {f['one_view_test_accuracy']:.2%}) after "
      f"{f['train_seconds']:.1f} s of training on {f['device']}, widths {f['widths']}, batch {f['batch_size']}")
for row in f["table"]:
    print(f"  {row['step']:<48} {row['test_accuracy']:7.2%} {row['train_seconds']:8.1f} s")
PY
$PY benchmarks/bench_fast_net.py --widths "${WIDTHS:-64,256,256}" --compare ${BENCH_COMPARE:-32,96,192 128,384,384} \
    --seconds "${BENCH_SECONDS:-3}" --loader-batch "${FAST_BATCH_SIZE:-2000}" \
    $($PY -c "import torch; print('--cuda --compile' if torch.cuda.is_available() else '')")
