"""Run the whole lesson headless: ``python -m cifar_helpers.run`` (``make run``).

Executes the numbered notebooks in order with papermill, passes each only the parameters it
declares, and writes the executed notebooks, the model, history.json, metrics.json and the
figures to the run folder, and in its run.json which run wrote them. Prints a summary; exits
non-zero naming the notebook and the cell that failed, and with 130 after Ctrl-C, which
interrupts the running cell (`lesson.kernels.CtrlC`).

    python -m cifar_helpers.run --epochs 3 --out runs/try1
    python -m cifar_helpers.run --device cuda --data-dir /data/cifar10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from .lesson.kernels import CtrlC, kernel_runtime_folder, local_kernel_manager
from .lesson.run_folder import (READS, RUN_ENV, RunFolderBusy, clear_unfinished_run, earlier_files_note, new_run_id,
                                prepare_run_folder, read_record, remove_stale, run_folder_lock, update_record)
from .core.environment import HEADLESS_ENV
from .core.startup import ctrl_c_raises
from .run_options import in_lesson, lesson_parameters, parse_args

# The notebook that writes each test accuracy into the run folder. What each notebook's run makes
# stale, and so removes before it runs, is run_folder.STALE_AFTER.
RESULTS = {"05": "metrics.json", "06": "fast_track.json"}


def find_notebooks(folder: Path, only: Iterable[str] | None = None) -> list[Path]:
    """The numbered notebooks (NN_name.ipynb) in ``folder``, in order; ``only``: just these numbers."""
    notebooks = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        unknown = [number for number in only if number not in {p.name[:2] for p in notebooks}]
        if unknown:  # "--only 04 5" would otherwise run 04 alone and say nothing about 5
            raise SystemExit(f"--only {' '.join(unknown)}: no such notebook in {folder}; give two-digit numbers "
                             f"such as {' '.join(p.name[:2] for p in notebooks[:2]) or '04 05'}.")
        notebooks = [p for p in notebooks if p.name[:2] in only]
    if not notebooks:
        raise SystemExit(f"no numbered notebooks (NN_name.ipynb) in {folder}" + (f" matching {only}" if only else ""))
    return notebooks


def declared_parameters(notebook: Path) -> set[str]:
    """The parameters that ``notebook``'s cell tagged ``parameters`` declares."""
    import papermill

    return set(papermill.inspect_notebook(str(notebook)))


def run_notebook(notebook: Path, out_dir: Path, parameters: dict,
                 ctrl_c: CtrlC | None = None) -> tuple[float, str | None]:
    """Execute one notebook with the parameters it declares; return (seconds, error or None).

    ctrl_c: the run's `CtrlC`: after Ctrl-C this raises KeyboardInterrupt once the kernel has stopped,
    unless the notebook had finished all the same.
    """
    import papermill
    from nbclient.exceptions import DeadKernelError

    declared = declared_parameters(notebook)
    passed = {k: v for k, v in parameters.items() if k in declared}
    hooks = {"on_cell_execute": ctrl_c.no_new_cell} if ctrl_c is not None else {}
    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(notebook), str(out_dir / notebook.name), parameters=passed,
                                   cwd=str(notebook.parent), kernel_name="python3", progress_bar=False,
                                   kernel_manager_class=local_kernel_manager(), **hooks)
    except Exception as error:
        if ctrl_c is not None and ctrl_c.pressed:  # the interrupted cell's error, or the killed kernel's
            raise KeyboardInterrupt from None
        seconds = time.perf_counter() - started
        if isinstance(error, papermill.PapermillExecutionError):
            return seconds, (f"{notebook.name} failed in cell {error.cell_index} (execution count "
                             f"{error.exec_count}): {error.ename}: {error.evalue}")
        if isinstance(error, DeadKernelError):
            return seconds, f"{notebook.name}: the kernel running it died (out of memory, or killed)"
        raise
    return time.perf_counter() - started, None


def summary(run_dir: Path, stages: Collection[str]) -> list[str]:
    """What this run wrote: the test accuracies of the notebooks in ``stages``, never an earlier run's."""
    lines = []
    metrics_file = run_dir / "metrics.json"
    if "05" in stages and metrics_file.is_file():
        m = json.loads(metrics_file.read_text())
        lines.append(f"test accuracy {m['test_accuracy']:.2%} (loss {m['test_loss']:.3f}) on "
                     f"{m['test_images']:,} images [{m['source']}]")
        if m.get("mirror"):
            lines.append(f"  (each image and its mirror image averaged; one look: {m['one_look_test_accuracy']:.2%})")
        lines.append(f"{m['epochs_trained']} epochs (best: {m['best_epoch']}), "
                     f"{m['seconds_per_epoch']:.1f} s per epoch, {m['images_per_second']:,.0f} images/s")
    fast = run_dir / "fast_track.json"
    if "06" in stages and fast.is_file():
        f = json.loads(fast.read_text())
        lines.append(f"notebook 06: test accuracy {f['test_accuracy']:.2%} after {f['train_seconds']:.0f} s "
                     "of training")
    lines.append(f"run folder: {run_dir}")
    lines += [f"  {name}" for name in ("model.pt", "history.json", "metrics.json", "fast_track.json", "figures",
                                       "notebooks") if (run_dir / name).exists()]
    return lines


def written_accuracies(run_dir: Path, stages: Collection[str]) -> dict[str, float]:
    """{"05": accuracy, "06": accuracy}: the test accuracies that the notebooks in ``stages`` wrote."""
    return {number: json.loads((run_dir / name).read_text())["test_accuracy"]
            for number, name in RESULTS.items() if number in stages}


def run_notebooks(notebooks: Sequence[Path], args: argparse.Namespace, run_dir: Path, ctrl_c: CtrlC) -> int:
    """Run ``notebooks`` into ``run_dir`` (locked), noting in run.json which run wrote what; return 0, 1 or 130.

    The runner's entry names the notebook running (or the one that failed or was interrupted), so
    that the next run knows what a killed run left half done (`clear_unfinished_run`).
    """
    stages = {p.name[:2] for p in notebooks}
    note = clear_unfinished_run(run_dir)
    if note:
        print(note)
    remove_stale(run_dir, stages)  # an earlier run's results must not stay beside new ones
    run, current = new_run_id(), None

    def record(state: str, notebook: str | None = None, outcome: str | None = None) -> None:
        """The runner's entry, naming ``notebook``; ``outcome``: the state of ``current``'s own entry."""
        entries = {}
        if outcome:  # notebook 4 adds to its own entry while it runs (`start_run`): keep that
            number = current.name[:2]
            entries[number] = {**read_record(run_dir).get("notebooks", {}).get(number, {}), "run": run,
                               "runner": True, "state": outcome}
        update_record(run_dir, runner={"run": run, "state": state, **({"notebook": notebook} if notebook else {})},
                      **entries)

    before = os.environ.get(RUN_ENV)
    os.environ[RUN_ENV] = run  # the kernels inherit it: notebook 4 notes which run wrote its files
    try:
        record("running")
        print(f"running {len(notebooks)} notebooks into {run_dir}")
        if ctrl_c.pressed:
            raise KeyboardInterrupt
        for notebook in notebooks:
            current = notebook
            record("running", current.name, "running")
            source = READS.get(current.name[:2], (None,))[0]
            note = earlier_files_note(run_dir, current.name) if source and source not in stages else None
            if note:
                print(note)
            seconds, error = run_notebook(current, run_dir / "notebooks",
                                          lesson_parameters(args, run_dir, current.name[:2]), ctrl_c=ctrl_c)
            if error:
                record("failed", current.name, "failed")
                print(f"FAILED  {error}", file=sys.stderr)
                print(f"        the executed notebook is {run_dir / 'notebooks' / current.name}", file=sys.stderr)
                return 1
            record("running", None, "finished")
            print(f"  ok  {current.name:28s} {seconds:6.1f} s", flush=True)
            current = None
            if ctrl_c.pressed:  # Ctrl-C came as that notebook finished: stop before the next one
                raise KeyboardInterrupt
        record("finished")
    except KeyboardInterrupt:
        if current is None:
            record("interrupted")
            print(f"\ninterrupted: {run_dir} holds only what finished before.", file=sys.stderr)
        else:
            record("interrupted", current.name, "interrupted")
            kept = " (model.pt: the best epoch so far)" if current.name[:2] == "04" and (
                run_dir / "model.pt").is_file() else ""
            print(f"\ninterrupted while {current.name} was running: {run_dir} keeps what it had saved{kept} until "
                  "the next run clears it.", file=sys.stderr)
        return 130
    finally:
        if before is None:
            os.environ.pop(RUN_ENV, None)
        else:
            os.environ[RUN_ENV] = before
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The runner's exit status: 0 when every notebook ran (and met any --min-accuracy), 130 after Ctrl-C, else 1."""
    ctrl_c_raises()
    args = parse_args(argv)
    run_dir = in_lesson(args.out, args)
    notebooks = find_notebooks(Path(args.notebooks), args.only)
    stages = {p.name[:2] for p in notebooks}
    if args.min_accuracy is not None and not stages & set(RESULTS):
        print("FAILED  --min-accuracy needs a test accuracy, which notebooks 05 and 06 write: run one of them too "
              "(drop --only, or add 05 or 06).", file=sys.stderr)
        return 1
    problem = prepare_run_folder(run_dir)
    if problem:
        print(f"FAILED  {problem}", file=sys.stderr)
        return 1
    os.environ[HEADLESS_ENV] = "1"  # the kernels inherit it: text progress, static figures
    try:
        with run_folder_lock(run_dir), kernel_runtime_folder(), CtrlC() as ctrl_c:
            code = run_notebooks(notebooks, args, run_dir, ctrl_c)
    except RunFolderBusy as busy:
        print(f"FAILED  {busy}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before or after the notebooks (run_notebooks reports its own)
        print(f"\ninterrupted: {run_dir} holds only what finished before.", file=sys.stderr)
        return 130
    if code:
        return code
    print("\n".join(summary(run_dir, stages)))
    if args.min_accuracy is not None:
        low = [(number, accuracy) for number, accuracy in written_accuracies(run_dir, stages).items()
               if accuracy < args.min_accuracy]
        for number, accuracy in low:
            print(f"FAILED  notebook {number}'s test accuracy {accuracy:.2%} is below --min-accuracy "
                  f"{args.min_accuracy:.2%}", file=sys.stderr)
        if low:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
