"""airbench94_muon.py itself, unchanged, on the CIFAR-10 copy this lesson trains on (needs an NVIDIA GPU).

Notebook 6 follows Keller Jordan's airbench94 (github.com/KellerJordan/cifar10-airbench), which
reaches 94.01% on torchvision's CIFAR-10. On another copy of the images (the lesson's JPEG copy,
say) the reference itself may reach less; this script measures how much, so that a gap between
notebook 6 and 94% can be told apart into "ours" (notebook 6 against the reference, same images)
and "the images'" (the reference here against its published figure).

It writes the images in airbench's format (``cifar10/train.pt`` and ``test.pt`` in ``--work``),
imports the airbench file given (it is not part of this project: download it from the repository
above), and calls its ``main`` ``--runs`` times on one model, as its own ``__main__`` does, without
its 200 runs and its slow ``max-autotune`` compilation. Each run prints airbench's own table.

    python tools/airbench_reference.py --airbench ~/cifar10-airbench/airbench94_muon.py --runs 5
    python tools/airbench_reference.py --airbench ... --compile     # its timing, compiled
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cifar_helpers import load_cifar10  # noqa: E402
from cifar_helpers.data.cifar10 import SOURCES  # noqa: E402
from cifar_helpers.core.validation import argument_type, whole_number  # noqa: E402
from cifar_helpers.data.cifar10_spec import CLASSES  # noqa: E402
from cifar_helpers.lesson.session import lesson_path  # noqa: E402


def export_for_airbench(folder: Path, data_dir="data", source="auto") -> list[Path]:
    """Write CIFAR-10 as airbench's loader reads it: {"images": uint8 (N, 32, 32, 3), "labels", "classes"}."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for split in ("train", "test"):
        images = load_cifar10(split, root=data_dir, source=source)
        path = folder / f"{split}.pt"
        partial = path.with_name(path.name + ".partial")
        torch.save({"images": torch.as_tensor(images.images), "labels": torch.as_tensor(images.labels),
                    "classes": list(CLASSES)}, partial)
        partial.replace(path)  # a file airbench finds is whole
        written.append(path)
    return written


def load_airbench(path: Path):
    """Import the airbench file as a module (it reads its own source through sys.argv[0])."""
    sys.argv = [str(path)]
    spec = importlib.util.spec_from_file_location("airbench_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = [name for name in ("CifarNet", "main", "print_columns", "logging_columns_list")
               if not hasattr(module, name)]
    if missing:
        raise SystemExit(f"--airbench {path}: no {' or '.join(missing)} in it; give airbench94_muon.py from "
                         "github.com/KellerJordan/cifar10-airbench.")
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--airbench", type=Path, required=True, help="path to airbench94_muon.py")
    parser.add_argument("--runs", type=argument_type(whole_number, "--runs", 5), default=5,
                        help="training runs (default 5; airbench's own: 200)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model first (one warm-up run)")
    parser.add_argument("--data-dir", default="data", help="where CIFAR-10 is (default: data)")
    parser.add_argument("--source", default="auto", choices=SOURCES, help="where the images come from")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "airbench",
                        help="folder for airbench's copy of the images (default runs/airbench)")
    args = parser.parse_args(argv)
    if not args.airbench.is_file():
        parser.error(f"argument --airbench: {args.airbench} is not a file; download airbench94_muon.py from "
                     "github.com/KellerJordan/cifar10-airbench.")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print("airbench_reference.py: airbench94_muon.py runs on an NVIDIA GPU only, and PyTorch sees none here.",
              file=sys.stderr)
        return 1
    work = args.work.resolve()
    export_for_airbench(work / "cifar10", lesson_path(args.data_dir).resolve(), args.source)
    airbench = load_airbench(args.airbench.resolve())
    os.chdir(work)  # airbench reads ./cifar10
    model = airbench.CifarNet().cuda().to(memory_format=torch.channels_last)
    airbench.print_columns(airbench.logging_columns_list, is_head=True)
    if args.compile:
        model.compile()
        airbench.main("warmup", model)
    accuracies = [airbench.main(run, model) for run in range(args.runs)]
    spread = f" (standard deviation {statistics.stdev(accuracies):.2%})" if len(accuracies) > 1 else ""
    print(f"airbench94_muon on {torch.cuda.get_device_name(0)}: test accuracy with test-time augmentation "
          f"{statistics.mean(accuracies):.2%} over {len(accuracies)} runs{spread}: "
          + ", ".join(f"{a:.2%}" for a in accuracies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
