"""Ctrl-C while a command is still importing torch: one line and exit 130 (cifar_helpers/core/startup.py)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cifar_helpers.core.startup import started_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("argv, command", [
    (["python", "-m", "cifar_helpers.run", "--only", "01"], "cifar_helpers.run"),
    (["python", "-X", "dev", "-m", "cifar_helpers.classroom", "grade"], "cifar_helpers.classroom"),
    (["python", "-m", "ipykernel_launcher", "-f", "k.json"], None),  # a notebook's kernel handles its own
    (["python", "-m", "pytest"], None),
    (["python", "script.py", "-m", "cifar_helpers.run"], None),  # -m after the script is the script's argument
    (["python", "-c", "import cifar_helpers"], None),
    (["python"], None),
])
def test_only_the_packages_own_commands_take_over_ctrl_c(argv, command):
    assert started_command(argv) == command


def wait_for_torch_loading(process: subprocess.Popen, timeout: float = 60) -> None:
    """Until the process has mapped libtorch: the guard is in and torch's import is under way."""
    maps = Path(f"/proc/{process.pid}/maps")
    end = time.monotonic() + timeout
    while "libtorch" not in maps.read_text():
        assert process.poll() is None and time.monotonic() < end, "the command never loaded torch"
        time.sleep(0.01)


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc to see torch loading")
@pytest.mark.parametrize("command, argv", [("cifar_helpers.run", ["--help"]),
                                           ("cifar_helpers.classroom", ["--help"])])
def test_ctrl_c_while_a_command_imports_torch_is_one_line_and_130(command, argv):
    process = subprocess.Popen([sys.executable, "-m", command, *argv], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONWARNINGS": ""})
    wait_for_torch_loading(process)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out) == (130, "")
    assert err.splitlines() == [f"python -m {command}: interrupted while starting; nothing was written"]


def test_a_program_importing_the_package_keeps_its_own_ctrl_c():
    """Imported, not run as a command: Ctrl-C is Python's KeyboardInterrupt as before."""
    code = "import signal, cifar_helpers; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True).stdout == "True\n"


def test_calling_a_commands_main_leaves_the_callers_ctrl_c_handler_alone(monkeypatch, capsys):
    from cifar_helpers import classroom

    def callers_own(signum, frame):
        pass

    monkeypatch.setattr(signal, "getsignal", lambda signum: callers_own)
    monkeypatch.setattr(signal, "signal", lambda *a: pytest.fail("main replaced the caller's Ctrl-C handler"))
    with pytest.raises(SystemExit):
        classroom.main(["--help"])
