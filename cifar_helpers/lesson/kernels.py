"""The runner's kernels: local sockets, a runtime folder of the run's own, and Ctrl-C.

The kernels talk to the runner over local sockets (`local_kernel_manager`) and keep their
connection files in a folder of the run's own, removed when it ends (`kernel_runtime_folder`).
Ctrl-C interrupts the running cell instead of the runner (`CtrlC`).
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from subprocess import Popen
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager

_kernel_managers = []  # weak references to the kernel managers of `local_kernel_manager`'s classes
_kernel_managers_lock = threading.RLock()  # reentrant: CtrlC's handler runs in the main thread, which may hold it


class Interrupted(Exception):
    """Ctrl-C came while a notebook ran: no further cell starts."""


def _managers() -> list[AsyncKernelManager]:
    with _kernel_managers_lock:
        return [manager for manager in (ref() for ref in _kernel_managers) if manager is not None]


def _running_kernels() -> Iterator[tuple[int | None, Popen]]:
    """(process group or None, process) of each kernel those managers started that is still running."""
    for manager in _managers():
        provisioner = getattr(manager, "provisioner", None)
        process = getattr(provisioner, "process", None)
        if process is not None and process.poll() is None:
            yield getattr(provisioner, "pgid", None), process


def _signal_kernels(signum: int) -> None:
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

    def __init__(self, grace: float = 3.0) -> None:
        self.grace, self.pressed, self._timer, self._before = grace, 0, None, None

    def __enter__(self) -> CtrlC:
        if hasattr(os, "killpg") and threading.current_thread() is threading.main_thread():
            self._before = signal.signal(signal.SIGINT, self._on_ctrl_c)
            for name in self.LOGGERS:
                logging.getLogger(name).addFilter(self._quiet_after_ctrl_c)
        return self

    def __exit__(self, *_: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._before is not None:
            signal.signal(signal.SIGINT, self._before)
            for name in self.LOGGERS:
                logging.getLogger(name).removeFilter(self._quiet_after_ctrl_c)

    def _on_ctrl_c(self, signum: int, frame: FrameType | None) -> None:
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

    def _quiet_after_ctrl_c(self, record: logging.LogRecord) -> bool:
        return not self.pressed

    def no_new_cell(self, **_: object) -> None:
        """Papermill's on_cell_execute hook: after Ctrl-C, no further cell starts."""
        if self.pressed:
            raise Interrupted("Ctrl-C")


def local_kernel_manager() -> type[AsyncKernelManager]:
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
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            with _kernel_managers_lock:
                _kernel_managers[:] = [ref for ref in _kernel_managers if ref() is not None] + [weakref.ref(self)]

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts a kernel before shutting it down. Papermill shuts down kernels
            # that are idle (or stopped by `CtrlC`): there SIGINT can only land in ipykernel's own
            # code, which then logs "KeyboardInterrupt caught in kernel" to the runner's stderr.
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    def socket_base() -> str:  # jupyter_client adds "-<n>" for each of the kernel's five sockets
        return os.path.join(jupyter_runtime_dir(), f"kernel-{uuid.uuid4().hex[:12]}-ipc")

    if os.name != "posix" or len(f"{socket_base()}-5".encode()) > getattr(zmq, "IPC_PATH_MAX_LEN", 107):
        return TrackedKernelManager

    class LocalKernelManager(TrackedKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        @default("ip")
        def _ip_default(self) -> str:
            os.makedirs(jupyter_runtime_dir(), exist_ok=True)
            return socket_base()

    return LocalKernelManager


@contextmanager
def kernel_runtime_folder() -> Iterator[str]:
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
