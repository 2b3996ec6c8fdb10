"""Load CIFAR-10 as plain arrays: uint8 images (N, 32, 32, 3), int64 labels, class names.

`load_cifar10` looks for the data in this order (``source="auto"``):

1. a local copy in ``root``: torchvision's ``cifar-10-batches-py`` folder or its
   ``cifar-10-python.tar.gz`` archive, or class-folder images ``train/<class>/*.png|jpg`` and
   ``test/<class>/...`` (directly in ``root``, one folder below it, or in a ``.tar.gz`` there);
2. torchvision's download into ``root`` (when ``download=True``).

Images from class folders are decoded once and cached as arrays, so the next load takes well
under two seconds. ``source="synthetic"`` makes a small, learnable, made-up data set for offline
demos and tests; it always says so.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .synthetic import make_synthetic_cifar10

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
SPLITS = ("train", "test")
SOURCES = ("auto", "torchvision", "local", "synthetic")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TORCHVISION_FOLDER = "cifar-10-batches-py"
TORCHVISION_ARCHIVE = "cifar-10-python.tar.gz"


class DataNotFoundError(FileNotFoundError):
    """CIFAR-10 is neither in the data folder nor downloadable."""


class DataFormatError(ValueError):
    """A local copy of CIFAR-10 is there but is not laid out as expected, or is damaged."""


@dataclass(frozen=True)
class Split:
    """One split of CIFAR-10: ``images`` (N, 32, 32, 3) uint8, ``labels`` (N,) int64."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"Split({len(self)} images {tuple(self.images.shape[1:])} {self.images.dtype}, "
                f"labels {self.labels.dtype}, {len(self.classes)} classes, source={self.source!r})")


def load_cifar10(split="train", root="data", source="auto", download=True, subset=None,
                 seed=0, verbose=True) -> Split:
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
    if subset is not None and (isinstance(subset, bool) or not isinstance(subset, (int, np.integer))
                               or subset < 1):
        raise ValueError(f"subset={subset!r} must be a positive whole number of images, or None for all.")
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
    return Split(images, labels, CLASSES, source)


def _load_real(split, root, source, download, verbose):
    if source in ("auto", "local"):
        found = find_local_copy(root)
        if found is not None:
            kind, path = found
            if kind == "torchvision":
                return (*read_torchvision_batches(path, split), "local")
            return (*_load_image_folders(path, split, root, verbose), "local")
        if source == "local" or not download:
            raise DataNotFoundError(_not_found_message(root, downloading=False))
    return (*_load_torchvision(split, root, download), "torchvision")


def find_local_copy(root: Path):
    """Return (kind, path) of the first CIFAR-10 copy found in ``root``, or None."""
    if not root.is_dir():
        return None
    if (root / TORCHVISION_FOLDER).is_dir():
        return "torchvision", root / TORCHVISION_FOLDER
    if (root / TORCHVISION_ARCHIVE).is_file():
        return "torchvision", root / TORCHVISION_ARCHIVE
    for folder in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        if (folder / "train").is_dir() or (folder / "test").is_dir():
            return "folders", folder
    archives = sorted(p for p in root.glob("*.tar.gz") if p.name != TORCHVISION_ARCHIVE)
    if archives:
        return "folders", archives[0]
    return None


def _not_found_message(root, downloading, reason=""):
    why = f" and could not be downloaded ({reason})" if downloading else ""
    return (f"CIFAR-10 is not in root={str(root)!r}{why}. Get it in one of three ways: run with "
            "internet access and download=True (torchvision fetches it), put a local copy in that folder "
            f"({TORCHVISION_FOLDER}/, {TORCHVISION_ARCHIVE}, or train/<class>/*.jpg + test/<class>/*.jpg, "
            "or a .tar.gz of those), or use source='synthetic' for an offline demo.")


# --- torchvision's files ---------------------------------------------------------------------

def _load_torchvision(split, root, download):
    from torchvision.datasets import CIFAR10  # imported here: torchvision is slow to import

    try:
        CIFAR10(root=str(root), train=(split == "train"), download=download)
    except RuntimeError as error:  # torchvision: "Dataset not found or corrupted"
        raise DataNotFoundError(_not_found_message(root, downloading=download, reason=error)) from None
    except OSError as error:  # no network, DNS failure, refused connection, ...
        raise DataNotFoundError(_not_found_message(root, downloading=True, reason=error)) from None
    return read_torchvision_batches(root / TORCHVISION_FOLDER, split)


def read_torchvision_batches(path: Path, split):
    """Read torchvision's pickled batches (a folder, or the archive that holds it)."""
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if path.is_file():
        members = _read_archive(path, lambda name: name.rsplit("/", 1)[-1] in names)
        blobs = [members[k] for k in sorted(members, key=lambda n: names.index(n.rsplit("/", 1)[-1]))]
    else:
        missing = [n for n in names if not (path / n).is_file()]
        if missing:
            raise DataFormatError(f"{path} lacks {', '.join(missing)}: expected torchvision's CIFAR-10 "
                                  "batches there; delete the folder to download a fresh copy.")
        blobs = [(path / n).read_bytes() for n in names]
    if len(blobs) != len(names):
        raise DataFormatError(f"{path} does not hold all of {', '.join(names)}; get a fresh copy.")
    images, labels = [], []
    for blob in blobs:
        try:
            entry = pickle.loads(blob, encoding="latin1")
            data = np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        except Exception as error:
            raise DataFormatError(f"a CIFAR-10 batch in {path} is damaged ({error}); get a fresh copy.") from None
        images.append(data.transpose(0, 2, 3, 1))
        labels.append(np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


# --- class-folder images, in a folder or a .tar.gz --------------------------------------------

def _load_image_folders(path: Path, split, root: Path, verbose):
    """Decode class-folder images once, cache them as arrays, return the requested split."""
    cache_file = _cache_namer(path, root)
    cache = cache_file(split)
    if cache.is_file():
        with np.load(cache) as arrays:
            return arrays["images"], arrays["labels"]
    if verbose:
        print(f"Decoding CIFAR-10 images from {path.name} (once; cached as arrays for next time)...")
    decoded = _decode_archive(path) if path.is_file() else _decode_folders(path)
    for name, (images, labels) in decoded.items():
        fresh = cache_file(name)
        _save_atomic(fresh, images=images, labels=labels)
        for stale in fresh.parent.glob(fresh.name.rsplit("-", 1)[0] + "-*.npz"):
            if stale != fresh:  # the same place's images as they were before a change (up to 154 MB)
                stale.unlink(missing_ok=True)
    if split not in decoded:
        raise DataFormatError(f"{path} has no {split}/ folder: expected {split}/<class>/*.jpg (or .png) "
                              "with the ten CIFAR-10 class names.")
    return decoded[split]


def _decode_folders(folder: Path):
    blobs = {split: [] for split in SPLITS}
    for split in SPLITS:
        if (folder / split).is_dir():
            blobs[split] = [(Path(path).relative_to(folder).as_posix(), Path(path).read_bytes())
                            for path, _ in _image_stats(folder / split)]
    return _decode(blobs, folder)


def _decode_archive(archive: Path):
    members = _read_archive(archive, lambda name: name.lower().endswith(IMAGE_SUFFIXES))
    blobs = {split: [] for split in SPLITS}
    for name, data in sorted(members.items()):
        parts = name.strip("./").split("/")
        split = next((s for s in SPLITS if s in parts[:-2]), None)
        if split is not None:
            blobs[split].append(("/".join(parts[parts.index(split):]), data))
    return _decode(blobs, archive)


def _decode(blobs, where):
    from PIL import Image

    out = {}
    for split, entries in blobs.items():
        if not entries:
            continue
        class_names = sorted({name.split("/")[1] for name in _checked_names(entries)})
        unknown = [c for c in class_names if c not in CLASSES]
        if unknown:
            raise DataFormatError(f"{where}: class folders {unknown} are not CIFAR-10's classes; expected "
                                  f"{split}/<class>/ with class in {', '.join(CLASSES)}.")
        images = np.empty((len(entries), 32, 32, 3), dtype=np.uint8)
        labels = np.empty(len(entries), dtype=np.int64)
        for i, (name, data) in enumerate(entries):
            try:
                with Image.open(io.BytesIO(data)) as image:
                    pixels = np.asarray(image.convert("RGB"))
            except Exception as error:
                raise DataFormatError(f"{where}: {name} is not a readable image ({error}).") from None
            if pixels.shape != (32, 32, 3):
                raise DataFormatError(f"{where}: {name} is {pixels.shape[1]}x{pixels.shape[0]} pixels; "
                                      "CIFAR-10 images are 32x32.")
            images[i] = pixels
            labels[i] = CLASSES.index(name.split("/")[1])
        # Class folders list the images class by class; mix them once, the same way every time,
        # so that the first images of a split show all classes, as in the original files.
        order = np.random.default_rng(2009).permutation(len(labels))
        out[split] = (images[order], labels[order])
    if not out:
        raise DataFormatError(f"{where} holds no images in train/<class>/ or test/<class>/: expected "
                              "train/<class>/*.jpg (or .png) and test/<class>/*.jpg with CIFAR-10's class names.")
    return out


def _checked_names(entries):
    for name, _ in entries:
        if name.count("/") < 2:
            raise DataFormatError(f"{name} is not inside a class folder: expected train/<class>/<image> "
                                  "and test/<class>/<image>.")
        yield name


def _read_archive(archive: Path, wanted):
    """Return {member name: bytes} for the archive's files whose name passes ``wanted``."""
    out = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.isfile() and wanted(member.name):
                    out[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataFormatError(f"{archive} is not a readable .tar.gz archive ({error}); delete it and "
                              "get a fresh copy.") from None
    return out


# --- caching ------------------------------------------------------------------------------------

def _cache_namer(source: Path, root: Path):
    """split -> its cache file: cifar10-<split>-<where the images are>-<their state>.npz.

    An archive is stamped by its size and time. A folder is stamped by every image file under
    train/ and test/ (name, size, time: an image added, removed or rewritten is noticed), not by
    the folder itself: when the images sit directly in root, writing root/.cache changes root's
    own mtime and would spoil the key. Listing 60,000 files takes a fraction of a second.
    """
    if source.is_file():
        stamped = [(source.name, source.stat())]
    else:
        stamped = [entry for s in SPLITS if (source / s).is_dir() for entry in _image_stats(source / s)]
    where = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:8]
    state = hashlib.sha1("|".join(f"{name}|{st.st_size}|{st.st_mtime_ns}" for name, st in stamped).encode())
    folder = _cache_folder(root)
    return lambda split: folder / f"cifar10-{split}-{where}-{state.hexdigest()[:12]}.npz"


def _image_stats(folder: Path):
    """(path, stat) of every image file under ``folder``, sorted by path: what is decoded, and what
    stamps the cache. os.scandir is 3x faster than Path.rglob here."""
    found, pending = [], [folder]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    pending.append(entry.path)
                elif os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                    found.append((entry.path, entry.stat()))
    return sorted(found)


def _cache_folder(root: Path) -> Path:
    # Write bits as well as os.access: root may write anywhere, but a folder marked read-only
    # (a shared copy of the data) should stay untouched.
    if root.is_dir() and os.access(root, os.W_OK) and root.stat().st_mode & 0o222:
        return root / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cifar_helpers"


def _save_atomic(path: Path, **arrays):
    """Write an .npz next to its final name, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
