"""The runner's command line: its options, and the parameters each notebook gets from them.

Each option that sets a notebook parameter is checked by that parameter's rule in
lesson/parameters.py as the command line is read, so a bad value is refused in one line before
any notebook runs. A relative folder counts from the lesson's top folder, as in the notebooks.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .core.validation import argument_type, real_number
from .data.cifar10 import SOURCES
from .lesson.parameters import RULES

DEFAULT_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

LESSON = {"01", "02", "03", "04", "05"}
FAST_TRACK = {"06"}

# --option: (the notebook parameter it sets, help, the notebooks it goes to: None for all that declare
# it). Values are checked by that parameter's rule. Notebook 6 has its own batch size and learning
# rate, so --batch-size for notebook 4 does not silently change it.
OPTIONS = {
    "--epochs": ("max_epochs", "at most this many epochs (default 10)", LESSON),
    "--data-dir": ("data_dir", "where CIFAR-10 is, or is downloaded to (default: data in the lesson's folder)", None),
    "--source": ("source", f"where the images come from: {', '.join(SOURCES)} (default auto)", None),
    "--train-subset": ("train_subset", "train on only this many images", LESSON),
    "--batch-size": ("batch_size", "batch size of notebooks 01-05 (default 64; 256 to evaluate)", LESSON),
    "--learning-rate": ("learning_rate", "Adam's learning rate in notebook 04 (default 0.001)", LESSON),
    "--dropout": ("dropout", "input dropout (default 0.3)", LESSON),
    "--patience": ("patience", "early-stopping patience in epochs (default 5)", LESSON),
    "--seed": ("seed", "random seed (default 0)", None),
    "--device": ("device", "auto, cpu, cuda, mps or xpu (default auto: the accelerator PyTorch finds, else the CPU)",
                 None),
    "--exercise-epochs": ("exercise_epochs", "notebook 04: epochs of each exercise's short run (default 3)", LESSON),
    "--overfit-epochs": ("overfit_epochs", "notebook 04: epochs of the overfitting run and exercise 4.2's runs "
                                           "(default 20)", LESSON),
    "--fast-epochs": ("epochs", "notebook 06: epochs of its full run (default 10)", FAST_TRACK),
    "--ablation-epochs": ("ablation_epochs", "notebook 06: epochs of each short run, 0 to skip them (default 2)",
                          FAST_TRACK),
    "--widths": ("widths", "notebook 06: channels of its three stages, such as 32,96,192 (default 64,256,256 where "
                           "bfloat16 is fast, else 32,96,192)", FAST_TRACK),
    "--bfloat16": ("bfloat16", "notebook 06: compute in bfloat16, true or false (default: where the hardware does "
                               "that fast, a recent GPU or a CPU with AMX)", FAST_TRACK),
    "--fast-batch-size": ("batch_size", "notebook 06: batch size (default 500)", FAST_TRACK),
    "--fast-learning-rate": ("learning_rate",
                             "notebook 06: Muon's learning rate (default 0.12; 0.24 for 3 epochs or less)", FAST_TRACK),
}


def _fraction(text: str) -> float:
    try:
        return real_number(text, "--min-accuracy", 0.58, low=0, high=1, low_open=True)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--min-accuracy {text} must be a fraction of the test images, such as "
                                         "0.58 for 58%.") from None


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The runner's command line (``sys.argv[1:]`` when ``argv`` is None); a bad value exits with one line."""
    parser = argparse.ArgumentParser(prog="python -m cifar_helpers.run",
                                     description="Run the whole lesson headless: ``python -m cifar_helpers.run`` "
                                                 "(``make run``).")
    parser.add_argument("--cuda", action="store_true", help="train and evaluate on an NVIDIA GPU (overrides --device)")
    for flag, (name, help_text, _) in OPTIONS.items():
        parser.add_argument(flag, dest=flag[2:].replace("-", "_"), type=argument_type(RULES[name], name),
                            help=help_text)
    parser.add_argument("--no-flips", action="store_false", dest="random_flips", default=None,
                        help="train without mirroring images at random")
    parser.add_argument("--no-mirror", action="store_false", dest="mirror", default=None,
                        help="score the test images from one look, without their mirror images")
    parser.add_argument("--out", default="runs/lesson", type=argument_type(RULES["run_dir"], "run_dir"),
                        help="run folder (default runs/lesson in the lesson's folder)")
    parser.add_argument("--notebooks", default=str(DEFAULT_NOTEBOOKS), help="folder of the numbered notebooks")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks, such as 04 05")
    parser.add_argument("--min-accuracy", type=_fraction,
                        help="exit non-zero when a test accuracy this run writes (notebook 05's, notebook 06's) "
                             "is below this fraction, such as 0.58 (for CI)")
    return parser.parse_args(argv)


def in_lesson(path: str | Path, args: argparse.Namespace) -> Path:
    """``path`` made absolute: a relative one counts from the lesson's top folder (the one holding the
    notebooks that run), as in the notebooks (`lesson_path`), wherever the runner was started."""
    path = Path(path).expanduser()
    return (path if path.is_absolute() else Path(args.notebooks).resolve().parent / path).resolve()


def lesson_parameters(args: argparse.Namespace, run_dir: Path, notebook: str = "04") -> dict:
    """The parameters given on the command line for notebook ``notebook`` ("04"), under the names it uses."""
    parameters = {name: getattr(args, flag[2:].replace("-", "_")) for flag, (name, _, scope) in OPTIONS.items()
                  if scope is None or notebook in scope}
    parameters.update(cuda=args.cuda or None, random_flips=args.random_flips, mirror=args.mirror,
                      run_dir=str(run_dir), data_dir=str(in_lesson(args.data_dir or "data", args)))
    return {name: value for name, value in parameters.items() if value is not None}
