"""The notebook session: the quick profile, lesson paths, and notebook_setup (parameters checked, paths resolved)."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.validation import env_flag
from .parameters import check_parameters

QUICK_ENV = "CIFAR_QUICK"

# What the quick profile changes, where a notebook has the parameter: synthetic data, a run
# folder of its own instead of the lesson's (another one given explicitly is kept), at most this
# many epochs, and a small network for notebook 6.
QUICK_SETTINGS = {"source": "synthetic", "widths": (8, 16, 16)}
QUICK_RUN_DIR = {"runs/lesson": "runs/quick"}
QUICK_AT_MOST = {"max_epochs": 2, "epochs": 1, "ablation_epochs": 1, "exercise_epochs": 1, "overfit_epochs": 2}


def quick_profile(announce: bool = True) -> bool:
    """True when CIFAR_QUICK=1: the tests' small, offline profile (see docs/maintainers.md).

    When it is active it says so (unless announce=False), so that no one mistakes a quick
    run's output for the lesson's.
    """
    active = env_flag(QUICK_ENV)
    if active and announce:
        print(f"QUICK PROFILE ({QUICK_ENV}=1): synthetic data and few epochs, for tests only; "
              f"unset {QUICK_ENV} for the real lesson.")
    return active


def lesson_path(path: str | os.PathLike) -> Path:
    """Resolve a notebook's relative ``data_dir`` or ``run_dir`` against the lesson's top folder.

    The top folder is the one holding notebooks/01_loading.ipynb, found from the current folder
    or its parents. So "data" means the same folder whether a notebook runs in JupyterLab (from
    notebooks/) or under papermill started from the top folder. Absolute paths, and relative
    ones outside a lesson checkout, are kept as they are. The result is relative to the current
    folder when it can be, so printed paths stay short and free of machine-specific parts.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd()
    for folder in (here, *here.parents[:2]):
        if (folder / "notebooks" / "01_loading.ipynb").is_file():
            return Path(os.path.relpath(folder / path, here))
    return path


def notebook_setup(namespace: dict) -> None:
    """Everything a notebook does with its parameters before its own work, in one call.

    ``notebook_setup(globals())`` right after the parameters cell: `check_parameters` (text
    such as "false" from papermill becomes False; a bad value stops here, named), the quick
    profile when the tests run (`quick_profile`), and ``data_dir``/``run_dir``
    resolved from the lesson's top folder (`lesson_path`).
    """
    check_parameters(namespace)
    if quick_profile():
        namespace.update({k: v for k, v in QUICK_SETTINGS.items() if k in namespace})
        if "run_dir" in namespace:
            namespace["run_dir"] = QUICK_RUN_DIR.get(namespace["run_dir"], namespace["run_dir"])
        namespace.update({k: v if namespace[k] is None else min(v, namespace[k])  # 0 (skip) stays 0
                          for k, v in QUICK_AT_MOST.items() if k in namespace})
    for name in ("data_dir", "run_dir"):
        if name in namespace:
            namespace[name] = lesson_path(namespace[name])
