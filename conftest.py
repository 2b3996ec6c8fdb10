"""Test-wide settings, read before anything runs (and inherited by the notebook kernels)."""

import os

# The quick, offline profile: notebooks run by the tests use synthetic data and a couple of
# epochs, and say so in their output. Headless: text progress bars, static figures.
os.environ.setdefault("CIFAR_QUICK", "1")
os.environ.setdefault("CIFAR_HEADLESS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
