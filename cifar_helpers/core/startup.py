"""Ctrl-C while a command of this package starts: one line and exit 130, not a traceback from torch's import.

``python -m cifar_helpers.run`` imports the whole package (torch, matplotlib) before its ``main``
runs, which takes seconds. Only when this process is one of those commands does
``quiet_ctrl_c_while_starting`` replace Python's Ctrl-C handler; the command's ``main`` puts
Python's own back with ``ctrl_c_raises`` and answers Ctrl-C from then on.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

COMMANDS = ("cifar_helpers.run", "cifar_helpers.classroom")
_starting_handler = None  # the handler quiet_ctrl_c_while_starting installed, if it did


def started_command(orig_argv: list[str] | None = None) -> str | None:
    """The package's command this process runs as (``python -m cifar_helpers.run``), or None."""
    argv = iter((sys.orig_argv if orig_argv is None else orig_argv)[1:])
    for arg in argv:
        if arg == "-m":
            module = next(argv, None)
            return module if module in COMMANDS else None
        if arg in ("-X", "-W", "--check-hash-based-pycs"):
            next(argv, None)  # the option's value
        elif not arg.startswith("-") or arg == "-c":  # a script or -c code comes first: not one of ours
            return None
    return None


def quiet_ctrl_c_while_starting() -> None:
    """Under ``python -m cifar_helpers.<command>``, answer Ctrl-C before ``main`` with one line and exit 130."""
    command = started_command()
    if command is None or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return  # imported by a notebook, a test or a program that handles Ctrl-C its own way

    def starting(signum: int, frame: FrameType | None) -> None:
        print(f"python -m {command}: interrupted while starting; nothing was written", file=sys.stderr)
        raise SystemExit(130)

    global _starting_handler
    _starting_handler = starting
    signal.signal(signal.SIGINT, starting)


def ctrl_c_raises() -> None:
    """Python's own Ctrl-C handler again (KeyboardInterrupt) in place of the starting one, for a command's
    ``main`` to handle; a handler of the program that calls ``main`` is left alone."""
    if _starting_handler is not None and signal.getsignal(signal.SIGINT) is _starting_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
