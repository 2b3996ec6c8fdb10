"""The runner's run folder and kernels: checked before a run, locked during it, recorded, nothing left behind.

A second run into the same folder is refused instead of mixing its files into the first one's.
``run.json`` records which run last ran each notebook, and so wrote its files (`STALE_AFTER`), and
how the runner's last run ended: the next run clears what a killed or interrupted one left half
done. The kernels talk to the runner over local sockets and keep their connection files in a
folder of the run's own, removed when it ends; Ctrl-C interrupts the running cell (`CtrlC`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
import time
import uuid
import weakref
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


class Interrupted(Exception):
    """Ctrl-C came while a notebook ran: no further cell starts."""


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


def update_record(run_dir: Path, runner=None, **notebooks) -> None:
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


def remove_stale(run_dir: Path, notebooks) -> list[str]:
    """Remove the files in ``run_dir`` that a run of ``notebooks`` makes stale; return their names."""
    removed = []
    for pattern, makers in STALE_AFTER.items():
        if makers & set(notebooks):
            for path in sorted(Path(run_dir).glob(pattern)):
                path.unlink(missing_ok=True)
                removed.append(path.relative_to(run_dir).as_posix())
    return removed


def start_run(run_dir, notebook: str) -> None:
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


# --- kernels --------------------------------------------------------------------------------------

_kernel_managers = []  # weak references to the kernel managers of `local_kernel_manager`'s classes
_kernel_managers_lock = threading.RLock()  # reentrant: CtrlC's handler runs in the main thread, which may hold it


def _managers():
    with _kernel_managers_lock:
        return [manager for manager in (ref() for ref in _kernel_managers) if manager is not None]


def _running_kernels():
    """(process group or None, process) of each kernel those managers started that is still running."""
    for manager in _managers():
        provisioner = getattr(manager, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None and process.poll() is None:
            yield getattr(provisioner, "pgid", None), process


def _signal_kernels(signum) -> None:
    for group, process in _running_kernels():
        try:
            os.killpg(group, signum) if group else process.send_signal(signum)
        except OSError:  # it ended meanwhile
            pass


class CtrlC:
    """While the block runs, Ctrl-C stops the kernels instead of raising KeyboardInterrupt in the runner.

    The first Ctrl-C interrupts each kernel's running cell, as JupyterLab's stop button does
    (SIGINT to its process group); papermill then stops and shuts the kernel down, waiting a second
    at most for it to exit (jupyter_client's shutdown_wait_time, 5 s, made 1). A kernel still
    running ``grace`` seconds later is killed (a cell sent just before Ctrl-C may not have started,
    and then SIGINT finds the kernel idle), and so is one at a second Ctrl-C; a third raises
    KeyboardInterrupt. `no_new_cell`, papermill's on_cell_execute hook, sends no cell after Ctrl-C,
    and papermill's and jupyter_client's log lines about the stopped kernel are dropped: the runner
    says what happened, in one line. Without POSIX signals, or off the main thread, Ctrl-C raises
    KeyboardInterrupt as usual.
    """

    LOGGERS = ("papermill", "traitlets")

    def __init__(self, grace=3.0):
        self.grace, self.pressed, self._timer, self._before = grace, 0, None, None

    def __enter__(self):
        if hasattr(os, "killpg") and threading.current_thread() is threading.main_thread():
            self._before = signal.signal(signal.SIGINT, self._on_ctrl_c)
            for name in self.LOGGERS:
                logging.getLogger(name).addFilter(self._quiet_after_ctrl_c)
        return self

    def __exit__(self, *_):
        if self._timer is not None:
            self._timer.cancel()
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)
            for name in self.LOGGERS:
                logging.getLogger(name).removeFilter(self._quiet_after_ctrl_c)

    def _on_ctrl_c(self, signum, frame):
        self.pressed += 1
        if self.pressed == 1:
            for manager in _managers():  # papermill's clean shutdown after the interrupted cell: a short one
                manager.shutdown_wait_time = min(manager.shutdown_wait_time, 1.0)
            _signal_kernels(signal.SIGINT)
            self._timer = threading.Timer(self.grace, _signal_kernels, (signal.SIGKILL,))
            self._timer.daemon = True
            self._timer.start()
        elif self.pressed == 2:
            _signal_kernels(signal.SIGKILL)
        else:
            raise KeyboardInterrupt

    def _quiet_after_ctrl_c(self, record):
        return not self.pressed

    def no_new_cell(self, **_):
        if self.pressed:
            raise Interrupted("Ctrl-C")


def local_kernel_manager():
    """A kernel manager that talks to the kernel over local sockets (IPC) where the system has them.

    Over TCP the kernel warns that its traffic is unencrypted: true, but on 127.0.0.1, between
    two processes of the same user, nobody else can listen. IPC avoids the network altogether.
    Its sockets go into Jupyter's runtime folder (a run's own, see `kernel_runtime_folder`), by an
    absolute path: jupyter_client's default is a relative one, in whatever folder each side runs.
    A socket's path may have at most 107 bytes (zmq's IPC_PATH_MAX_LEN), so where that folder is
    too deep for one (a long TMPDIR), the kernel talks over TCP on 127.0.0.1 after all.
    The manager is asynchronous, as nbclient's default: papermill then notices a kernel that died
    (one `CtrlC` killed) instead of waiting for its reply; and `CtrlC` can find its kernel.
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import CaselessStrEnum, default

    class TrackedKernelManager(AsyncKernelManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with _kernel_managers_lock:
                _kernel_managers[:] = [ref for ref in _kernel_managers if ref() is not None] + [weakref.ref(self)]

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts a kernel before shutting it down. Papermill shuts down kernels
            # that are idle (or stopped by `CtrlC`): there SIGINT can only land in ipykernel's own
            # code, which then logs "KeyboardInterrupt caught in kernel" to the runner's stderr.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    def socket_base():  # jupyter_client adds "-<n>" for each of the kernel's five sockets
        return os.path.join(jupyter_runtime_dir(), f"kernel-{uuid.uuid4().hex[:12]}-ipc")

    if os.name != "posix" or len(f"{socket_base()}-5".encode()) > getattr(zmq, "IPC_PATH_MAX_LEN", 107):
        return TrackedKernelManager

    class LocalKernelManager(TrackedKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self):
            os.makedirs(jupyter_runtime_dir(), exist_ok=True)
            return socket_base()

    return LocalKernelManager


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
