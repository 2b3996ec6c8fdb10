"""`DataSet`: cut aligned arrays (images, labels, ...) into batches, once per epoch.

Every batch is one vectorised slice of each array (a view when not shuffling, one fancy-index
gather when shuffling), so a batch costs the same whatever its size: no per-image Python.
"""

from __future__ import annotations

import math

import numpy as np
import torch


class DataSet:
    """Iterate over ``data`` (a list of aligned arrays) in batches of ``batch_size``.

    >>> ds = DataSet([images, labels], batch_size=64, shuffle=True, seed=0)
    >>> len(ds)                      # batches per epoch
    >>> for images_batch, labels_batch in ds: ...

    shuffle: a new order every epoch, drawn from ``seed`` (or from numpy's global generator
        when ``seed`` is None, so ``np.random.seed`` makes runs repeatable).
    drop_last: leave out the last, smaller batch (useful for training, never for testing).
    """

    def __init__(self, data, batch_size=64, shuffle=False, drop_last=False, seed=None):
        if not isinstance(data, (list, tuple)) or not data:
            raise TypeError("data must be a list of aligned arrays, such as [images, labels].")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size={batch_size!r} must be a positive whole number, such as 64.")
        lengths = {len(array) for array in data}
        if len(lengths) != 1:
            raise ValueError(f"the arrays in data have different lengths {sorted(lengths)}; "
                             "each image needs exactly one label.")
        self.data = [array if isinstance(array, (np.ndarray, torch.Tensor)) else np.asarray(array)
                     for array in data]
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def num_samples(self) -> int:
        return len(self.data[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        order = self._rng.permutation(self.num_samples) if self.shuffle else None
        for b in range(len(self)):
            start = b * self.batch_size
            if order is None:
                yield tuple(array[start:start + self.batch_size] for array in self.data)
            else:
                yield tuple(self._take(order[start:start + self.batch_size]))

    def split(self, fraction, seed=0):
        """Split off ``fraction`` of the samples (drawn with ``seed``) as a second DataSet.

        Returns (rest, part); both keep this DataSet's batch size. The part is never shuffled
        and keeps every sample (it is for validation).
        """
        if not 0 < fraction < 1:
            raise ValueError(f"fraction={fraction!r} must be between 0 and 1, such as 0.1.")
        n_part = int(round(self.num_samples * fraction))
        if not 0 < n_part < self.num_samples:
            raise ValueError(f"fraction={fraction} of {self.num_samples} samples leaves one side empty; "
                             "use more data or another fraction.")
        order = np.random.default_rng(seed).permutation(self.num_samples)
        part_index, rest_index = np.sort(order[:n_part]), np.sort(order[n_part:])
        rest = DataSet(self._take(rest_index), self.batch_size, self.shuffle, self.drop_last,
                       seed=self.seed)
        part = DataSet(self._take(part_index), self.batch_size, shuffle=False, drop_last=False)
        return rest, part

    def _take(self, index):
        return [array[index if isinstance(array, np.ndarray) else torch.from_numpy(index)]
                for array in self.data]

    def __repr__(self) -> str:
        return (f"DataSet({self.num_samples} samples, batch_size={self.batch_size}, {len(self)} batches, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
