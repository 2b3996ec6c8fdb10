"""Choose the device to train on."""

import torch

from .validation import flag


def select_device(cuda):
    """torch.device('cuda') when asked for and present, else the CPU.

    Asking for CUDA on a machine without it falls back to the CPU and says so in one line, so a
    lesson prepared on a GPU machine still runs on a machine without one.
    """
    if flag(cuda, "cuda"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        print("cuda=True, but this machine has no CUDA GPU that PyTorch can use: running on the CPU.")
    return torch.device("cpu")
