"""Run the whole lesson headless: ``python -m cifar_helpers.run`` (``make run``).

Executes the numbered notebooks in order with papermill, passes each only the parameters it
declares, and writes the executed notebooks, the model, history.json, metrics.json and the
figures to the run folder. Prints a summary; exits non-zero naming the notebook and the cell
that failed.

    python -m cifar_helpers.run --epochs 3 --out runs/try1
    python -m cifar_helpers.run --cuda --data-dir /data/cifar10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .session import HEADLESS_ENV

DEFAULT_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cifar_helpers.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuda", action="store_true", help="train and evaluate on the GPU when there is one")
    parser.add_argument("--epochs", type=int, dest="max_epochs", help="at most this many epochs (default 10)")
    parser.add_argument("--data-dir", help="where CIFAR-10 is, or is downloaded to (default ./data)")
    parser.add_argument("--source", choices=("auto", "torchvision", "local", "synthetic"),
                        help="where the images come from (default auto)")
    parser.add_argument("--train-subset", type=int, help="train on only this many images")
    parser.add_argument("--batch-size", type=int, help="training batch size (default 64)")
    parser.add_argument("--learning-rate", type=float, help="Adam's learning rate (default 0.001)")
    parser.add_argument("--dropout", type=float, help="input dropout (default 0.3)")
    parser.add_argument("--patience", type=int, help="early-stopping patience in epochs (default 5)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--no-flips", action="store_false", dest="random_flips", default=None,
                        help="train without mirroring images at random")
    parser.add_argument("--no-mirror", action="store_false", dest="mirror", default=None,
                        help="score the test images from one look, without their mirror images")
    parser.add_argument("--out", default="runs/lesson", help="run folder (default runs/lesson)")
    parser.add_argument("--notebooks", default=str(DEFAULT_NOTEBOOKS), help="folder of the numbered notebooks")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks, such as 04 05")
    parser.add_argument("--min-accuracy", type=float,
                        help="exit non-zero when the test accuracy is below this fraction (for CI)")
    args = parser.parse_args(argv)
    for name, flag in (("max_epochs", "--epochs"), ("train_subset", "--train-subset"),
                       ("batch_size", "--batch-size"), ("patience", "--patience")):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1 (got {value})")
    return args


def lesson_parameters(args) -> dict:
    """The parameters given on the command line, under the names the notebooks use."""
    parameters = {
        "cuda": args.cuda, "max_epochs": args.max_epochs, "source": args.source,
        "train_subset": args.train_subset, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "dropout": args.dropout, "patience": args.patience,
        "seed": args.seed, "random_flips": args.random_flips, "mirror": args.mirror,
        "run_dir": str(Path(args.out).resolve()),
        "data_dir": str(Path(args.data_dir).resolve()) if args.data_dir else str(Path("data").resolve()),
    }
    return {name: value for name, value in parameters.items() if value is not None}


def find_notebooks(folder: Path, only=None):
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        notebooks = [p for p in notebooks if p.name[:2] in only]
    if not notebooks:
        raise SystemExit(f"no numbered notebooks (NN_name.ipynb) in {folder}" + (f" matching {only}" if only else ""))
    return notebooks


def declared_parameters(notebook: Path) -> set:
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def run_notebook(notebook: Path, out_dir: Path, parameters: dict):
    """Execute one notebook with the parameters it declares; return (seconds, error or None)."""
    import papermill

    passed = {k: v for k, v in parameters.items() if k in declared_parameters(notebook)}
    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(out_dir / notebook.name), parameters=passed,
                                   cwd=str(notebook.parent), kernel_name="python3", progress_bar=False)
    except papermill.PapermillExecutionError as error:
        return time.perf_counter() - started, (f"{notebook.name} failed in cell {error.cell_index} "
                                               f"(execution count {error.exec_count}): {error.ename}: "
                                               f"{error.evalue}")
    return time.perf_counter() - started, None


def summary(run_dir: Path) -> list[str]:
    lines = []
    metrics_file = run_dir / "metrics.json"
    if metrics_file.is_file():
        m = json.loads(metrics_file.read_text())
        lines.append(f"test accuracy {m['test_accuracy']:.2%} (loss {m['test_loss']:.3f}) on "
                     f"{m['test_images']:,} images [{m['source']}]")
        if m.get("mirror"):
            lines.append(f"  (each image and its mirror image averaged; one look: {m['one_look_test_accuracy']:.2%})")
        lines.append(f"{m['epochs_trained']} epochs (best: {m['best_epoch']}), "
                     f"{m['seconds_per_epoch']:.1f} s per epoch, {m['images_per_second']:,.0f} images/s")
    lines.append(f"run folder: {run_dir}")
    for name in ("model.pt", "history.json", "metrics.json", "figures", "notebooks"):
        if (run_dir / name).exists():
            lines.append(f"  {name}")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    run_dir = Path(args.out).resolve()
    (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    parameters = lesson_parameters(args)
    os.environ[HEADLESS_ENV] = "1"  # the kernels inherit it: text progress, static figures
    notebooks = find_notebooks(Path(args.notebooks), args.only)
    stages = {p.name[:2] for p in notebooks}
    if args.min_accuracy is not None and "05" not in stages:
        print("FAILED  --min-accuracy needs the test accuracy that notebook 05 writes: run it too "
              "(drop --only, or add 05).", file=sys.stderr)
        return 1
    if stages & {"04", "05"}:  # a new model, or its new score: an earlier run's figures must not stay
        (run_dir / "metrics.json").unlink(missing_ok=True)
    print(f"running {len(notebooks)} notebooks into {run_dir}")
    for notebook in notebooks:
        seconds, error = run_notebook(notebook, run_dir / "notebooks", parameters)
        if error:
            print(f"FAILED  {error}", file=sys.stderr)
            print(f"        the executed notebook is {run_dir / 'notebooks' / notebook.name}", file=sys.stderr)
            return 1
        print(f"  ok  {notebook.name:28s} {seconds:6.1f} s", flush=True)
    print("\n".join(summary(run_dir)))
    if args.min_accuracy is not None:
        accuracy = json.loads((run_dir / "metrics.json").read_text())["test_accuracy"]
        if accuracy < args.min_accuracy:
            print(f"FAILED  test accuracy {accuracy:.2%} is below --min-accuracy {args.min_accuracy:.2%}",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
