"""Who is watching: a person at a live notebook, or a headless run (papermill, nbval, a script)."""

from .validation import env_flag

HEADLESS_ENV = "CIFAR_HEADLESS"


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, papermill, nbval, VS Code, ...)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def is_headless() -> bool:
    """True unless a person is watching a notebook live.

    Headless: CIFAR_HEADLESS=1, no Jupyter kernel, or a kernel whose client allows no input
    (papermill and nbclient execute that way; JupyterLab allows input).
    """
    if env_flag(HEADLESS_ENV):
        return True
    if not in_notebook():
        return True
    from IPython import get_ipython

    return not getattr(get_ipython().kernel, "_allow_stdin", True)
