"""The runner's run folder: checked before a run, locked during it, recorded, nothing left behind.

A second run into the same folder is refused instead of mixing its files into the first one's.
``run.json`` records which run last ran each notebook, and so wrote its files (`STALE_AFTER`), and
how the runner's last run ended: the next run clears what a killed or interrupted one left half
done. The kernels that run the notebooks, and Ctrl-C, are kernels.py's.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..core.files import atomic_write

RECORD = "run.json"
RUN_ENV = "CIFAR_RUN_ID"  # the runner's run id, for the kernels it starts (see `start_run`)

_EVALUATION, _FAST_TRACK = {"04", "05"}, {"06"}
# Every file the notebooks write into the run folder, and the notebooks whose run makes an earlier
# copy stale (a new model, or a new score of it): removed before they run, and after a run of theirs
# that did not finish (`clear_unfinished_run`).
STALE_AFTER = {**{name: {"04"} for name in ("model.pt", "weights.pt", "history.json", "exercise_dropout_*.pt")},
               "metrics.json": _EVALUATION, "fast_track.json": _FAST_TRACK, "figures/fast_track.png": _FAST_TRACK,
               **{f"figures/{name}.png": _EVALUATION for name in ("confidence", "confusion_matrix", "predictions")},
               **{f"figures/{name}.png": {"02"} for name in ("average_images", "examples_per_class", "first_images",
                                                           "pixel_histograms")}}
# The files a notebook reads that an earlier notebook wrote: notebook 5 scores notebook 4's models.
READS = {"05": ("04", ("model.pt", "weights.pt", "exercise_dropout_*.pt"))}


class RunFolderBusy(RuntimeError):
    """Another run is writing into the same run folder."""


# --- run.json: which run wrote what ---------------------------------------------------------------


def new_run_id() -> str:
    """When the run started, and a random part: two runs never share an id."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def read_record(run_dir: Path) -> dict:
    """run.json of ``run_dir`` as a dict; {} when there is none (or it is not readable: it is rewritten)."""
    try:
        record = json.loads((Path(run_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def update_record(run_dir: Path, runner: dict | None = None, **notebooks: dict | None) -> None:
    """Rewrite run.json atomically: the runner's entry replaced, notebooks' entries ``"04"={...}`` set (None: gone)."""
    record = read_record(run_dir)
    if runner is not None:
        record["runner"] = runner
    entries = record.setdefault("notebooks", {})
    for number, entry in notebooks.items():
        if entry is None:
            entries.pop(number, None)
        else:
            entries[number] = entry
    with atomic_write(Path(run_dir) / RECORD, what="run record") as f:
        f.write(json.dumps(record, indent=1).encode())


def remove_stale(run_dir: Path, notebooks: Iterable[str]) -> list[str]:
    """Remove the files in ``run_dir`` that a run of ``notebooks`` makes stale; return their names."""
    removed = []
    for pattern, makers in STALE_AFTER.items():
        if makers & set(notebooks):
            for path in sorted(Path(run_dir).glob(pattern)):
                path.unlink(missing_ok=True)
                removed.append(path.relative_to(run_dir).as_posix())
    return removed


def start_run(run_dir: str | Path, notebook: str) -> None:
    """Notebook ``notebook`` ("04") starts writing into ``run_dir``: what an earlier run of it wrote goes.

    The files it makes stale go too (a new model makes the old scores stale), and run.json notes
    which run this is: the runner's, or one of the notebook's own (JupyterLab, papermill).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(run_dir, {notebook})
    by_runner = bool(os.environ.get(RUN_ENV))
    entry = {"run": os.environ.get(RUN_ENV) or new_run_id(), "runner": by_runner,
             "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if by_runner:  # the runner records how it ends
        entry["state"] = "running"
    update_record(run_dir, **{notebook: entry})


def clear_unfinished_run(run_dir: Path) -> str | None:
    """Clear what the runner's last run left half done: the files of the notebook it was running when it was
    killed or interrupted (with its executed copy and any temporary file). Return one line saying so, or None.

    Called with the run folder's lock held, so that a run still "running" in run.json is one that was
    killed. A run that finished or failed is left as it is: its files are whole, and a failed
    notebook is there to read.
    """
    run_dir = Path(run_dir)
    record = read_record(run_dir)
    last = record.get("runner") or {}
    if last.get("state") not in ("running", "interrupted"):
        return None
    name = last.get("notebook")
    number = name[:2] if name else None
    # Its files, unless notebook 4 has run since outside the runner (start_run) and written whole ones.
    run = last.get("run")
    ours = number is not None and record.get("notebooks", {}).get(number, {}).get("run", run) == run
    removed = remove_stale(run_dir, {number}) if ours else []
    leftovers = [*run_dir.glob(".*.tmp"), *((run_dir / "notebooks").glob(name) if name else [])]
    for path in sorted(leftovers):
        path.unlink(missing_ok=True)
        removed.append(path.relative_to(run_dir).as_posix())
    update_record(run_dir, runner={**last, "state": "cleared"}, **({number: None} if ours else {}))
    if not removed:
        return None
    how = "was killed" if last["state"] == "running" else "was interrupted"
    return (f"cleared {', '.join(removed)} from {run_dir}: run {run} {how} while {name} ran, "
            "so they were half done.")


def earlier_files_note(run_dir: Path, notebook: str) -> str | None:
    """One line naming the files of an earlier run that ``notebook`` ("05_evaluation.ipynb") reads, and whose."""
    if notebook[:2] not in READS:
        return None
    source, patterns = READS[notebook[:2]]
    found = [pattern for pattern in patterns if any(Path(run_dir).glob(pattern))]
    if not found:
        return None  # the notebook says itself what is missing
    entry = read_record(run_dir).get("notebooks", {}).get(source)
    if not entry:
        whose = "a run that run.json does not record"
    elif entry.get("runner"):
        whose = f"run {entry['run']} (notebook {source} {entry.get('state', 'started')} there)"
    else:
        whose = f"a run of notebook {source} outside the runner (JupyterLab or papermill), started {entry['started']}"
    return f"  {notebook} reads {', '.join(found)} from {whose}: this run does not run {source}."


# --- the folder: writable, and one run's at a time ------------------------------------------------


@contextmanager
def run_folder_lock(run_dir: Path) -> Iterator[None]:
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


def prepare_run_folder(run_dir: Path) -> str | None:
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
