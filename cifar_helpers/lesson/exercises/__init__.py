"""Self-checks for the lesson's exercises: ``check("4.1", histories=histories)`` says right, or gives a hint.

Every exercise has one check, defined once in this package (a module per notebook); a notebook's
check cell is one line. A check
prints one of

    ✓ Exercise 4.1: right. <what it shows>
    ✗ Exercise 4.1: not yet. Hint: <a nudge that does not give the answer away>
    … Exercise 4.1: no answer yet: <what to fill in>

Where a question has no single right answer (compare two curves), the check tests what can be
tested: the runs happened, the answer agrees with the student's own results; the teacher's
guide discusses the rest. When nbgrader grades a notebook (it sets NBGRADER_EXECUTION), or when
CIFAR_GRADING=1, a check that is not right raises AssertionError with its hint instead, so
each check cell is an nbgrader grade cell.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeAlias

from ...core.validation import env_flag

Verdict: TypeAlias = tuple[str, str]  # (RIGHT, WRONG or MISSING, the message): what a check returns
Check: TypeAlias = Callable[..., Verdict]  # a check: the answers (and context) as keywords -> its verdict

CHECKS: dict[str, Check] = {}  # filled by the modules imported at the end of this one, one per notebook
RIGHT, WRONG, MISSING = "right", "wrong", "missing"


def exercise(name: str) -> Callable[[Check], Check]:
    """Register a check: a function of the answers that returns (status, message)."""
    def register(function: Check) -> Check:
        CHECKS[name] = function
        return function
    return register


def check(name: str, **answers) -> None:
    """Check exercise ``name`` with the answers (and context) given as keywords; print the verdict."""
    if name not in CHECKS:
        raise KeyError(f"there is no exercise {name!r}: the exercises are {', '.join(CHECKS)}.")
    try:
        status, message = CHECKS[name](**answers)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, RuntimeError) as error:
        # An answer of another kind: text for a number, or a tensor of several values where one is asked
        # for (its truth value is a RuntimeError). The verdict stays one line, whatever the error's length.
        reason = (str(error).strip().splitlines() or [""])[0]
        status, message = WRONG, (f"the answer is not of the kind the question asks for ({type(error).__name__}: "
                                  f"{reason}); read the question again for what to store.")
    mark, verdict = {RIGHT: ("✓", "right."), WRONG: ("✗", "not yet. Hint:"), MISSING: ("…", "no answer yet:")}[status]
    line = f"{mark} Exercise {name}: {verdict} {message}".rstrip()
    grading = bool(os.environ.get("NBGRADER_EXECUTION")) or env_flag("CIFAR_GRADING")  # nbgrader sets a mode name
    if status != RIGHT and grading:
        raise AssertionError(line)
    print(line)


def right(message: str = "") -> Verdict:
    return RIGHT, message


def wrong(hint: str) -> Verdict:
    return WRONG, hint


def missing(what: str) -> Verdict:
    return MISSING, what


def _unanswered(*values) -> bool:
    return any(value is None or value is ... for value in values)


def _final(history: list[dict[str, float]], key: str) -> float | None:
    return history[-1][key] if history and key in history[-1] else None


def _separated(values: dict[tuple[float, int], float]) -> tuple[float | None, float, float]:
    """{(setting, seed): value} for two settings -> (the higher setting or None, separation, spread).

    The higher setting counts only when both of its values lie above both of the other's by more
    than the two seeds of either setting differ (the spread): a gap smaller than chance tells nothing.
    """
    settings = sorted({setting for setting, _ in values})
    by_setting = {s: [v for (setting, _), v in values.items() if setting == s] for s in settings}
    low, high = sorted(settings, key=lambda s: sum(by_setting[s]))
    spread = max(max(v) - min(v) for v in by_setting.values())
    separation = min(by_setting[high]) - max(by_setting[low])
    return (high if separation > spread else None), separation, spread


# The checks register themselves when their modules are imported.
from . import evaluation, fast_track, loading, model, training, visualization  # noqa: E402, F401
