"""Argument checks shared by the whole library: one clear line naming the argument and the fix.

Each check returns the value in its plain Python form (numpy and torch numbers become int or
float), so a caller writes ``batch_size = whole_number(batch_size, "batch_size", 64)``.
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .batch import Array, Batch

T = TypeVar("T")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def argument_type(check: Callable[..., T], *args, **kwargs) -> Callable[[str], T]:
    """An argparse ``type=``: ``check(text, *args, **kwargs)``, its one-line message as argparse's error.

    ``type=argument_type(whole_number, "--runs", 5)`` refuses ``--runs 0`` with
    "argument --runs: --runs=0 must be a positive whole number, such as 5."
    """
    def convert(text: str) -> T:
        try:
            return check(text, *args, **kwargs)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return convert


def whole_number(value: object, name: str, example: int | str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, else a ValueError naming ``name``.

    Text such as "5" is accepted (papermill and the command line pass text); True/False are not.
    """
    number = _number(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < minimum:
        need = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        raise ValueError(f"{name}={_shown(value)} must be {need}, such as {example}.")
    return number


def real_number(value: object, name: str, example: float | str, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float within [low, high] (ends excluded when *_open), else a ValueError."""
    number = _number(value)
    inside = not isinstance(number, bool) and isinstance(number, (int, float)) and math.isfinite(number)
    if inside and low is not None:
        inside = number > low if low_open else number >= low
    if inside and high is not None:
        inside = number < high if high_open else number <= high
    if not inside:
        if low is not None and high is not None:
            ends = [f"{end} excluded" for end, is_open in ((low, low_open), (high, high_open)) if is_open]
            bounds = f"between {low} and {high}" + (f" ({', '.join(ends)})" if ends else "")
        elif low is not None:
            bounds = f"{'>' if low_open else '>='} {low}"
        elif high is not None:
            bounds = f"{'<' if high_open else '<='} {high}"
        else:
            bounds = "(finite)"
        raise ValueError(f"{name}={_shown(value)} must be a number {bounds}, such as {example}.")
    return float(number)


def seed_value(seed: object, name: str = "seed") -> int | None:
    """None (a fresh, unrepeatable draw) or a whole number >= 0, else a ValueError naming ``name``."""
    return None if seed is None else whole_number(seed, name, 0, minimum=0)


def boolean_value(value: object) -> bool | None:
    """True or False for a boolean: Python's, numpy's, or a 0-d boolean array or tensor (as
    ``(a == b).all()`` gives); None for anything else."""
    if isinstance(value, bool):
        return value
    if str(getattr(value, "dtype", "")) in ("bool", "torch.bool") and getattr(value, "ndim", None) == 0:
        return bool(value)
    return None


def flag(value: object, name: str) -> bool:
    """True or False for a yes/no argument (a bool, numpy's too, or a 0-d boolean tensor), else a
    ValueError naming ``name``. Text is refused, not read: ``bool("false")`` is True, and the
    boundaries (``notebook_setup``, the runner's options) turn papermill's text into bools once."""
    answer = boolean_value(value)
    if answer is None:
        hint = "; notebook_setup and the runner convert papermill's text" if isinstance(value, str) else ""
        raise ValueError(f"{name}={value!r} must be True or False{hint}.")
    return answer


def parse_bool(value: object, name: str = "value") -> bool:
    """True/False from a bool, 0/1, or text such as 'False', 'false', 'yes', 'off': for the boundaries only.

    papermill passes ``-p flag false`` as the text "false", which Python would treat as true;
    this reads it the way a person meant it. Anything else is a ValueError naming ``name``.
    """
    if boolean_value(value) is not None:
        return boolean_value(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a yes/no value: use True or False.")


def env_flag(name: str) -> bool:
    """An on/off environment variable: unset or empty is off; 1/0, true/false, yes/no, on/off as meant.

    ``CIFAR_QUICK=false`` is off (a plain truth test of the text would turn it on); anything else
    is a ValueError naming the variable.
    """
    value = os.environ.get(name, "").strip()
    if not value:
        return False
    try:
        return parse_bool(value, name)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an on/off value: set it to 1 or 0 (or unset it).") from None


def batch_inputs(batch: Batch | Array) -> Array:
    """The inputs of a batch: its first item when it is (inputs, labels, ...), else the batch itself."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _shown(value: object) -> str:
    """How a value appears in a message: numbers given as text (from the command line) without quotes."""
    number = _number(value)
    return str(value).strip() if isinstance(value, str) and number is not value else repr(value)


def _number(value: object) -> object:
    """int or float from a Python, numpy or torch number, or from text; anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value.strip())
            except ValueError:
                pass
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)  # a 0-d numpy array or torch tensor
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return _number(item())
    return value
