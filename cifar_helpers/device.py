"""Choose the device to train on, and read yes/no parameters the way people write them."""

import torch

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off", "none", ""}


def parse_bool(value, name="value"):
    """True/False from a bool or from text such as 'False', 'false', 'yes', '0' (papermill passes text)."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not a yes/no value: use True or False.")


def select_device(cuda):
    """torch.device('cuda') when asked for and present, else the CPU.

    Asking for CUDA on a machine without it falls back to the CPU and says so in one line, so a
    lesson prepared on a GPU machine still runs on a laptop.
    """
    if parse_bool(cuda, "cuda"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        print("cuda=True, but this machine has no CUDA GPU that PyTorch can use: running on the CPU.")
    return torch.device("cpu")
