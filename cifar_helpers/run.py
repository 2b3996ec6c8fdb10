"""Run the whole lesson headless: ``python -m cifar_helpers.run`` (``make run``).

Executes the numbered notebooks in order with papermill, passes each only the parameters it
declares, and writes the executed notebooks, the model, history.json, metrics.json and the
figures to the run folder. Prints a summary; exits non-zero naming the notebook and the cell
that failed, and with 130 after Ctrl-C.

    python -m cifar_helpers.run --epochs 3 --out runs/try1
    python -m cifar_helpers.run --cuda --data-dir /data/cifar10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .checks import real_number
from .cifar10 import SOURCES
from .parameters import RULES
from .session import HEADLESS_ENV, lesson_path

DEFAULT_NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

# --option: (the notebook parameter it sets, help). Values are checked by that parameter's rule.
OPTIONS = {
    "--epochs": ("max_epochs", "at most this many epochs (default 10)"),
    "--data-dir": ("data_dir", "where CIFAR-10 is, or is downloaded to (default: data in the lesson's folder)"),
    "--source": ("source", f"where the images come from: {', '.join(SOURCES)} (default auto)"),
    "--train-subset": ("train_subset", "train on only this many images"),
    "--batch-size": ("batch_size", "training batch size (default 64)"),
    "--learning-rate": ("learning_rate", "Adam's learning rate (default 0.001)"),
    "--dropout": ("dropout", "input dropout (default 0.3)"),
    "--patience": ("patience", "early-stopping patience in epochs (default 5)"),
    "--seed": ("seed", "random seed (default 0)"),
    "--fast-epochs": ("epochs", "notebook 06: epochs of its final run (default 8)"),
    "--widths": ("widths", "notebook 06: channels of its three stages, such as 32,128,128"),
}


class RunFolderBusy(RuntimeError):
    """Another run is writing into the same run folder."""


def _rule(name):
    def convert(text):
        try:
            return RULES[name](text, name)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return convert


def _fraction(text):
    try:
        return real_number(text, "--min-accuracy", 0.58, low=0, high=1, low_open=True)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--min-accuracy {text} must be a fraction of the test images, such as "
                                         "0.58 for 58%.") from None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m cifar_helpers.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cuda", action="store_true", help="train and evaluate on the GPU when there is one")
    for flag, (name, help_text) in OPTIONS.items():
        parser.add_argument(flag, dest=name, type=_rule(name), help=help_text)
    parser.add_argument("--no-flips", action="store_false", dest="random_flips", default=None,
                        help="train without mirroring images at random")
    parser.add_argument("--no-mirror", action="store_false", dest="mirror", default=None,
                        help="score the test images from one look, without their mirror images")
    parser.add_argument("--out", default="runs/lesson", type=_rule("run_dir"),
                        help="run folder (default runs/lesson in the lesson's folder)")
    parser.add_argument("--notebooks", default=str(DEFAULT_NOTEBOOKS), help="folder of the numbered notebooks")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks, such as 04 05")
    parser.add_argument("--min-accuracy", type=_fraction,
                        help="exit non-zero when the test accuracy is below this fraction, such as 0.58 (for CI)")
    return parser.parse_args(argv)


def lesson_parameters(args, run_dir: Path) -> dict:
    """The parameters given on the command line, under the names the notebooks use.

    Relative folders count from the lesson's top folder, as in the notebooks (`lesson_path`).
    """
    parameters = {name: getattr(args, name) for name, _ in OPTIONS.values()}
    parameters.update(cuda=args.cuda or None, random_flips=args.random_flips, mirror=args.mirror,
                      run_dir=str(run_dir), data_dir=str(lesson_path(args.data_dir or "data").resolve()))
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
                                   cwd=str(notebook.parent), kernel_name="python3", progress_bar=False,
                                   kernel_manager_class=_local_kernel_manager())
    except papermill.PapermillExecutionError as error:
        return time.perf_counter() - started, (f"{notebook.name} failed in cell {error.cell_index} "
                                               f"(execution count {error.exec_count}): {error.ename}: "
                                               f"{error.evalue}")
    return time.perf_counter() - started, None


def _local_kernel_manager():
    """A kernel manager that talks to the kernel over local sockets (IPC) where the system has them.

    Over TCP the kernel warns that its traffic is unencrypted: true, but on 127.0.0.1, between
    two processes of the same user, nobody else can listen. IPC avoids the network altogether.
    """
    from jupyter_client.manager import KernelManager
    from traitlets import CaselessStrEnum

    if os.name != "posix":
        return KernelManager
    return type("LocalKernelManager", (KernelManager,),
                {"transport": CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)})


@contextmanager
def kernel_runtime_folder():
    """Kernel connection files and sockets go to a folder of this run's, removed when it ends (even after Ctrl-C)."""
    before = os.environ.get("JUPYTER_RUNTIME_DIR")
    with tempfile.TemporaryDirectory(prefix="cifar-run-kernels-") as folder:
        os.environ["JUPYTER_RUNTIME_DIR"] = folder
        try:
            yield folder
        finally:
            if before is None:
                os.environ.pop("JUPYTER_RUNTIME_DIR", None)
            else:
                os.environ["JUPYTER_RUNTIME_DIR"] = before


@contextmanager
def run_folder_lock(run_dir: Path):
    """Hold ``run_dir/.lock`` while running: a second run into the same folder is refused, not mixed in.

    The operating system releases the lock when the process ends, however it ends, so a killed
    run never leaves a stale lock behind. (Without fcntl, on Windows, there is no lock.)
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(run_dir / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise RunFolderBusy(f"another run ({holder}) is writing into {run_dir}: wait for it to finish, "
                                "or give this one another --out.") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)


def prepare_run_folder(run_dir: Path):
    """Create the run folder and check that it can be written, before any notebook runs; None or a reason."""
    if run_dir.exists() and not run_dir.is_dir():
        return f"--out {run_dir} is a file, not a folder: choose a folder name."
    try:
        (run_dir / "notebooks").mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        return f"--out {run_dir} cannot be written ({error.strerror or error}): choose a folder you can write to."
    return None


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
    fast = run_dir / "fast_track.json"
    if fast.is_file():
        f = json.loads(fast.read_text())
        lines.append(f"notebook 06: test accuracy {f['test_accuracy']:.2%} after {f['train_seconds']:.0f} s of training")
    lines.append(f"run folder: {run_dir}")
    lines += [f"  {name}" for name in ("model.pt", "history.json", "metrics.json", "fast_track.json", "figures",
                                       "notebooks") if (run_dir / name).exists()]
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    run_dir = lesson_path(args.out).resolve()
    notebooks = find_notebooks(Path(args.notebooks), args.only)
    stages = {p.name[:2] for p in notebooks}
    if args.min_accuracy is not None and "05" not in stages:
        print("FAILED  --min-accuracy needs the test accuracy that notebook 05 writes: run it too "
              "(drop --only, or add 05).", file=sys.stderr)
        return 1
    problem = prepare_run_folder(run_dir)
    if problem:
        print(f"FAILED  {problem}", file=sys.stderr)
        return 1
    os.environ[HEADLESS_ENV] = "1"  # the kernels inherit it: text progress, static figures
    current = None
    try:
        with run_folder_lock(run_dir), kernel_runtime_folder():
            if stages & {"04", "05"}:  # a new model, or its new score: an earlier run's figures must not stay
                (run_dir / "metrics.json").unlink(missing_ok=True)
            print(f"running {len(notebooks)} notebooks into {run_dir}")
            for current in notebooks:
                seconds, error = run_notebook(current, run_dir / "notebooks", lesson_parameters(args, run_dir))
                if error:
                    print(f"FAILED  {error}", file=sys.stderr)
                    print(f"        the executed notebook is {run_dir / 'notebooks' / current.name}", file=sys.stderr)
                    return 1
                print(f"  ok  {current.name:28s} {seconds:6.1f} s", flush=True)
    except RunFolderBusy as busy:
        print(f"FAILED  {busy}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        where = f" while {current.name} was running" if current else ""
        print(f"\ninterrupted{where}: {run_dir} holds only what finished before.", file=sys.stderr)
        return 130
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
