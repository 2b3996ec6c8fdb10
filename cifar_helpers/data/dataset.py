"""`DataSet`: cut aligned arrays (images, labels, ...) into batches, once per epoch.

Every batch is one vectorised slice of each array (a view when not shuffling, one fancy-index
gather when shuffling), so a batch costs the same whatever its size: no per-image Python.
The defaults are the seed tutorial's (Cogitare's): batches of 1, shuffled, last batch kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..core.batch import Array
from ..core.validation import flag, real_number, seed_value, whole_number


class DataSet:
    """Iterate over ``data`` (a list of aligned arrays) in batches of ``batch_size``.

    >>> train = DataSet([images, labels], batch_size=64)              # shuffled, for training
    >>> test = DataSet([images, labels], batch_size=256, shuffle=False)  # in order, for testing
    >>> len(train)                     # batches per epoch
    >>> for images_batch, labels_batch in train: ...

    shuffle: a new order every epoch, drawn from ``seed`` (or from numpy's global generator
        when ``seed`` is None, so ``np.random.seed`` makes runs repeatable). Training wants it:
        data stored class by class, unshuffled, teaches a network nothing. Anything whose
        outputs must line up with the labels (`Model.predict_dataset`) needs shuffle=False.
    drop_last: leave out the last, smaller batch (useful for training, never for testing).
    """

    def __init__(self, data: Sequence[Array], batch_size: int = 1, shuffle: bool = True, drop_last: bool = False,
                 seed: int | None = None) -> None:
        if not isinstance(data, (list, tuple)) or not data:
            raise TypeError("data must be a list of aligned arrays, such as [images, labels].")
        lengths = {len(array) for array in data}
        if len(lengths) != 1:
            raise ValueError(f"the arrays in data have different lengths {sorted(lengths)}; "
                             "each image needs exactly one label.")
        self.data = [array if isinstance(array, (np.ndarray, torch.Tensor)) else np.asarray(array)
                     for array in data]
        self.batch_size = whole_number(batch_size, "batch_size", 64)
        self.shuffle = flag(shuffle, "shuffle")
        self.drop_last = flag(drop_last, "drop_last")
        seed = seed_value(seed)
        self.seed = int(np.random.randint(0, 2**31 - 1)) if seed is None else seed
        self._rng = np.random.default_rng(self.seed)

    @property
    def num_samples(self) -> int:
        return len(self.data[0])

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Array, ...]]:
        order = self._rng.permutation(self.num_samples) if self.shuffle else None
        for b in range(len(self)):
            start = b * self.batch_size
            if order is None:
                yield tuple(array[start:start + self.batch_size] for array in self.data)
            else:
                yield tuple(self._take(order[start:start + self.batch_size]))

    def restarted(self) -> DataSet:
        """The same batches from the start: a new DataSet over the same arrays whose shuffles begin
        again from ``seed`` (this one's go on where they are). Notebook 6 trains every run on one."""
        return DataSet(self.data, self.batch_size, self.shuffle, self.drop_last, seed=self.seed)

    def split(self, ratio: float, seed: int | None = 0) -> tuple[DataSet, DataSet]:
        """Split into two DataSets: ``ratio`` of the samples (drawn with ``seed``), and the rest.

        As in Cogitare, ``train, validation = data.split(0.9)`` keeps 90% in the first. Both
        keep the batch size; the first keeps shuffle and drop_last, the second (for validation)
        is never shuffled and keeps every sample.
        """
        ratio = real_number(ratio, "ratio", "0.9 (90% in the first part)", low=0, high=1, low_open=True, high_open=True)
        n_first = int(round(self.num_samples * ratio))
        if not 0 < n_first < self.num_samples:
            raise ValueError(f"ratio={ratio} of {self.num_samples} samples leaves one part empty; "
                             "use more data or another ratio.")
        order = np.random.default_rng(seed_value(seed)).permutation(self.num_samples)
        first, second = np.sort(order[:n_first]), np.sort(order[n_first:])
        return (DataSet(self._take(first), self.batch_size, self.shuffle, self.drop_last, seed=self.seed),
                DataSet(self._take(second), self.batch_size, shuffle=False, drop_last=False))

    def _take(self, index: np.ndarray) -> list[Array]:
        return [array[index if isinstance(array, np.ndarray) else torch.from_numpy(index)]
                for array in self.data]

    def __repr__(self) -> str:
        return (f"DataSet({self.num_samples} samples, batch_size={self.batch_size}, {len(self)} batches, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
