"""What a batch is, for type hints: ``Batch`` is (images, labels, ...), each item an ``Array``.

A `DataSet` yields tuples of numpy slices (tensors, where its arrays are tensors), a loader step
such as `RandomFlip` returns the same kind, and `batch_to_tensors` gives (float images, int64
labels) as tensors: a network's ``forward(batch)`` and ``loss(output, batch)`` take that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import torch

Array: TypeAlias = np.ndarray | torch.Tensor  # numpy on the CPU, or a tensor on any device
Batch: TypeAlias = Sequence[Array]  # (images, labels, ...): a tuple or a list, as DataSet gives
