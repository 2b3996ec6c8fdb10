"""Argument checks shared by the whole library: one clear line naming the argument and the fix.

Each check returns the value in its plain Python form (numpy and torch numbers become int or
float), so a caller writes ``batch_size = whole_number(batch_size, "batch_size", 64)``.
"""

import math
import numbers

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def whole_number(value, name, example, minimum=1):
    """``value`` as an int >= ``minimum``, else a ValueError naming ``name``.

    Text such as "5" is accepted (papermill and the command line pass text); True/False are not.
    """
    number = _number(value)
    if isinstance(number, bool) or not isinstance(number, int) or number < minimum:
        need = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        raise ValueError(f"{name}={value!r} must be {need}, such as {example}.")
    return number


def real_number(value, name, example, low=None, high=None, low_open=False, high_open=False):
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
        raise ValueError(f"{name}={value!r} must be a number {bounds}, such as {example}.")
    return float(number)


def parse_bool(value, name="value"):
    """True/False from a bool, 0/1, or text such as 'False', 'false', 'yes', 'off'.

    papermill passes ``-p flag false`` as the text "false", which Python would treat as true;
    this reads it the way a person meant it. Anything else is a ValueError naming ``name``.
    """
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # numpy's bool too
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a yes/no value: use True or False.")


def _number(value):
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
