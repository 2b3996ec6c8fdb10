"""Load CIFAR-10 as plain arrays: uint8 images (N, 32, 32, 3), int64 labels, class names.

`load_cifar10` looks for the data in this order (``source="auto"``):

1. a local copy in ``root``: torchvision's ``cifar-10-batches-py`` folder or its
   ``cifar-10-python.tar.gz`` archive (unpacked into the cache folder, ``root`` left as it
   was, and read by torchvision itself), or class-folder images
   ``train/<class>/*.png|jpg`` and ``test/<class>/...`` (see image_folders.py);
2. torchvision's download into ``root`` (when ``download=True``).

``source="synthetic"`` makes a small, learnable, made-up data set for offline demos and tests;
it always says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..core.validation import flag, seed_value, whole_number
from .cifar10_spec import CLASSES, SPLITS, DataFormatError, DataNotFoundError
from .archives import extract_tar
from .image_folders import cache_folder, find_image_folders, load_image_folders
from .synthetic import make_synthetic_cifar10

if TYPE_CHECKING:
    from torchvision.datasets import CIFAR10

SOURCES = ("auto", "torchvision", "local", "synthetic")
TORCHVISION_FOLDER = "cifar-10-batches-py"
TORCHVISION_ARCHIVE = "cifar-10-python.tar.gz"

__all__ = ["CLASSES", "SOURCES", "DataFormatError", "DataNotFoundError", "Split", "as_torchvision_dataset",
           "load_cifar10"]


@dataclass(frozen=True)
class Split:
    """One split of CIFAR-10: ``images`` (N, 32, 32, 3) uint8, ``labels`` (N,) int64; ``name``: "train" or "test"."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    source: str
    name: str = "train"

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"Split({len(self)} images {tuple(self.images.shape[1:])} {self.images.dtype}, "
                f"labels {self.labels.dtype}, {len(self.classes)} classes, source={self.source!r})")


def load_cifar10(split: str = "train", root: str | os.PathLike = "data", source: str = "auto", download: bool = True,
                 subset: int | None = None, seed: int | None = 0, verbose: bool = True) -> Split:
    """Return one split of CIFAR-10 as a `Split` of numpy arrays.

    split: "train" (50,000 images) or "test" (10,000 images).
    root: the data folder; torchvision downloads into it and caches are written there
        (or in ~/.cache/cifar_helpers when it is read-only).
    source: "auto" (local copy, else download), "torchvision" (its files, downloaded when
        missing), "local" (only what is in ``root``) or "synthetic".
    subset: keep only this many images, drawn at random with ``seed``.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not a CIFAR-10 split: use 'train' or 'test'.")
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is unknown: use one of {', '.join(map(repr, SOURCES))}.")
    if subset is not None:
        subset = whole_number(subset, "subset", 10000)
    seed = seed_value(seed)
    download = flag(download, "download")
    root = Path(root).expanduser()

    if source == "synthetic":
        images, labels = make_synthetic_cifar10(split)
        if verbose:
            print(f"SYNTHETIC data: {len(labels)} made-up {split} images (not CIFAR-10; for offline "
                  "demos and tests only).")
    else:
        images, labels, source = _load_real(split, root, source, download, verbose)

    if subset is not None and subset < len(labels):
        keep = np.sort(np.random.default_rng(seed).choice(len(labels), subset, replace=False))
        images, labels = images[keep], labels[keep]
    return Split(images, labels, CLASSES, source, split)


def as_torchvision_dataset(split: Split, transform: Callable | None = None) -> CIFAR10:
    """torchvision's own ``CIFAR10`` dataset over a `Split`'s arrays, whatever the source.

    With torchvision's files in ``root`` this is what ``CIFAR10(root, train=..., transform=...)``
    gives: the same class, the same per-image ``__getitem__`` (a PIL image through
    ``transform``), for the same images.
    """
    from torchvision.datasets import CIFAR10, VisionDataset

    dataset = CIFAR10.__new__(CIFAR10)  # skip its file reading: the arrays are loaded already
    VisionDataset.__init__(dataset, root="", transform=transform)
    dataset.data, dataset.targets = split.images, split.labels.tolist()
    dataset.train, dataset.classes = split.name == "train", list(split.classes)
    dataset.class_to_idx = {name: i for i, name in enumerate(split.classes)}
    return dataset


def _load_real(split: str, root: Path, source: str, download: bool,
               verbose: bool) -> tuple[np.ndarray, np.ndarray, str]:
    if source in ("auto", "local") and root.is_dir():
        if (root / TORCHVISION_FOLDER).is_dir() or (root / TORCHVISION_ARCHIVE).is_file():
            return (*_load_torchvision(split, root, download=False), "local")
        folders = find_image_folders(root)
        if folders is not None:
            return (*load_image_folders(folders, split, root, verbose), "local")
    if source == "local" or (source == "auto" and not download):
        raise DataNotFoundError(_not_found_message(root, downloading=False))
    return (*_load_torchvision(split, root, download), "torchvision")


def _torchvision_root(root: Path) -> Path:
    """The folder that holds torchvision's ``cifar-10-batches-py``: ``root``, or, where ``root`` has
    only the archive, the cache folder it is unpacked into once (torchvision reads only the folder;
    the data folder, perhaps a shared read-only copy, stays as it was)."""
    import tempfile

    archive = root / TORCHVISION_ARCHIVE
    if (root / TORCHVISION_FOLDER).is_dir() or not archive.is_file():
        return root
    unpacked = cache_folder(root)
    if not (unpacked / TORCHVISION_FOLDER).is_dir():
        try:  # unpacked beside its final place, then renamed: never half a folder
            unpacked.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=unpacked, prefix=".unpacking-") as temporary:
                extract_tar(archive, temporary)  # a member that would land outside it is refused
                os.rename(Path(temporary) / TORCHVISION_FOLDER, unpacked / TORCHVISION_FOLDER)
        except DataFormatError:
            raise
        except Exception as error:
            raise DataFormatError(f"could not unpack {archive} into {unpacked} ({error}): unpack it yourself, "
                                  "or delete it to download a fresh copy.") from None
    return unpacked


def _load_torchvision(split: str, root: Path, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's own CIFAR10 reader over its files in ``root`` (downloading them if asked)."""
    from torchvision.datasets import CIFAR10  # imported here: torchvision is slow to import

    root = _torchvision_root(root)
    try:
        data = CIFAR10(root=str(root), train=(split == "train"), download=download)
    except RuntimeError as error:  # "Dataset not found or corrupted"
        if (root / TORCHVISION_FOLDER).is_dir():
            raise DataFormatError(f"{root / TORCHVISION_FOLDER} is incomplete or damaged ({error}): delete it "
                                  "to download a fresh copy.") from None
        raise DataNotFoundError(_not_found_message(root, downloading=download, reason=error)) from None
    except OSError as error:  # no network, DNS failure, refused connection, ...
        raise DataNotFoundError(_not_found_message(root, downloading=True, reason=error)) from None
    return np.ascontiguousarray(data.data), np.asarray(data.targets, dtype=np.int64)


def _not_found_message(root: Path, downloading: bool, reason: Exception | str = "") -> str:
    why = f" and could not be downloaded ({reason})" if downloading else ""
    return (f"CIFAR-10 is not in root={str(root)!r}{why}. Get it in one of three ways: run with "
            "internet access and download=True (torchvision fetches it), put a local copy in that folder "
            f"({TORCHVISION_FOLDER}/, {TORCHVISION_ARCHIVE}, or train/<class>/*.jpg + test/<class>/*.jpg, "
            "or a .tar.gz of those), or use source='synthetic' for an offline demo.")
