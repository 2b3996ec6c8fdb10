"""The runner's run folder and kernels: checked before a run, locked during it, nothing left behind.

A second run into the same folder is refused instead of mixing its files into the first one's; the
kernels that execute the notebooks talk to the runner over local sockets and keep their connection
files in a folder of the run's own, removed when it ends, even after Ctrl-C.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


class RunFolderBusy(RuntimeError):
    """Another run is writing into the same run folder."""


def local_kernel_manager():
    """A kernel manager that talks to the kernel over local sockets (IPC) where the system has them.

    Over TCP the kernel warns that its traffic is unencrypted: true, but on 127.0.0.1, between
    two processes of the same user, nobody else can listen. IPC avoids the network altogether.
    Its sockets go into Jupyter's runtime folder (a run's own, see `kernel_runtime_folder`), by an
    absolute path: jupyter_client's default is a relative one, in whatever folder each side runs.
    A socket's path may have at most 107 bytes (zmq's IPC_PATH_MAX_LEN), so where that folder is
    too deep for one (a long TMPDIR), the kernel talks over TCP on 127.0.0.1 after all.
    """
    import uuid

    import zmq
    from jupyter_client.manager import KernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import CaselessStrEnum, default

    def socket_base():  # jupyter_client adds "-<n>" for each of the kernel's five sockets
        return os.path.join(jupyter_runtime_dir(), f"kernel-{uuid.uuid4().hex[:12]}-ipc")

    if os.name != "posix" or len(f"{socket_base()}-5".encode()) > getattr(zmq, "IPC_PATH_MAX_LEN", 107):
        return KernelManager

    class LocalKernelManager(KernelManager):
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
