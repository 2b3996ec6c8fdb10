"""The lesson's parameters: what each one may hold, checked the same way in every notebook and in the runner.

papermill hands a notebook ``-p random_flips false`` as the text "false", which Python would
treat as true; ``check_parameters(globals())`` reads it as False. A value that fits no rule stops
the notebook with one line naming the notebook's own parameter (``train_subset``, not the
library's ``subset``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

from ..core.device import check_device
from ..core.validation import parse_bool, real_number, whole_number
from ..data.cifar10 import SOURCES
from ..networks.fast_net import check_widths

Rule: TypeAlias = Callable[[object, str], object]  # rule(value, name): the checked value, or a ValueError


def _choice(options: Sequence[str]) -> Rule:
    def check(value: object, name: str) -> object:
        if value not in options:
            raise ValueError(f"{name}={value!r} must be one of {', '.join(map(repr, options))}.")
        return value
    return check


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}={value!r} must be a folder name such as 'data'.")
    return value


def _optional(rule: Rule) -> Rule:
    return lambda value, name: None if value is None or value == "None" else rule(value, name)


def _whole(example: int, minimum: int = 1) -> Rule:
    return lambda value, name: whole_number(value, name, example, minimum)


# name -> rule(value, name): the checked value, or a ValueError naming the parameter.
RULES: dict[str, Rule] = {
    "cuda": _optional(parse_bool),
    "device": check_device,
    "random_flips": parse_bool,
    "mirror": parse_bool,
    "augment": parse_bool,
    "data_dir": _text,
    "run_dir": _text,
    "source": _choice(SOURCES),
    "batch_size": _whole(64),
    "max_epochs": _whole(10),
    "epochs": _whole(8),
    "patience": _whole(5),
    "ablation_epochs": _whole(2, minimum=0),
    "exercise_epochs": _whole(3),
    "overfit_epochs": _whole(20),
    "train_subset": _optional(_whole(10000)),
    "seed": _whole(0, minimum=0),
    "learning_rate": lambda v, n: real_number(v, n, 0.001, low=0, low_open=True),
    "dropout": lambda v, n: real_number(v, n, 0.3, low=0, high=1, high_open=True),
    "validation_fraction": lambda v, n: real_number(v, n, 0.1, low=0, high=1, low_open=True, high_open=True),
    "label_smoothing": lambda v, n: real_number(v, n, 0.2, low=0, high=1, high_open=True),
    "widths": _optional(check_widths),
    "bfloat16": _optional(parse_bool),
}


def check_parameters(namespace: dict) -> dict:
    """Check every lesson parameter found in ``namespace`` (a notebook's ``globals()``), in place.

    Text such as "false" or "5" becomes False or 5; a value that fits no rule raises a
    ValueError naming the parameter. Returns the checked parameters.
    """
    checked = {name: rule(namespace[name], name) for name, rule in RULES.items() if name in namespace}
    namespace.update(checked)
    return checked
