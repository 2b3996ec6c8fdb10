"""CIFAR-10 as class-folder images (``train/<class>/*.jpg``, ``test/<class>/*.png``), in a folder or a .tar.gz.

The images are decoded once and cached as arrays, so the next load takes well under two
seconds. The cache is only an optimisation: a cache file that cannot be read is rebuilt, and
one that cannot be written is skipped with a notice; neither stops a load.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .cifar10_spec import CLASSES, SPLITS, DataFormatError
from ..core.files import atomic_write
from .archives import check_member

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def find_image_folders(root: Path) -> Path | None:
    """The folder holding train/ or test/ (root or one folder below it), or a .tar.gz in root; or None."""
    for folder in (root, *sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))):
        if (folder / "train").is_dir() or (folder / "test").is_dir():
            return folder
    archives = sorted(p for p in root.glob("*.tar.gz") if not p.name.startswith("."))
    return archives[0] if archives else None


def load_image_folders(source: Path, split: str, root: Path, verbose: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of ``split`` from class-folder images at ``source``, through the cache."""
    cache_file = _cache_namer(source, root)
    cached = _read_cache(cache_file(split))
    if cached is not None:
        return cached
    if verbose:
        print(f"Decoding CIFAR-10 images from {source.name} (once; cached as arrays for next time)...")
    decoded = _decode(_read_archive_images(source) if source.is_file() else _read_folder_images(source), source)
    if split not in decoded:
        raise DataFormatError(f"{source} has no {split}/ folder: expected {split}/<class>/*.jpg (or .png) "
                              "with the ten CIFAR-10 class names.")
    _write_cache(cache_file, decoded)
    return decoded[split]


def _read_folder_images(folder: Path) -> dict[str, list[tuple[str, bytes]]]:
    return {split: [(Path(path).relative_to(folder).as_posix(), Path(path).read_bytes())
                    for path, _ in _image_stats(folder / split)]
            for split in SPLITS if (folder / split).is_dir()}


def _read_archive_images(archive: Path) -> dict[str, list[tuple[str, bytes]]]:
    blobs = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                check_member(member, archive)  # nothing is unpacked, but a name like ../x is refused
                parts = member.name.strip("./").split("/")
                split = next((s for s in SPLITS if s in parts[:-2]), None)
                if member.isfile() and split and _is_image(parts[-1]):
                    name = "/".join(parts[parts.index(split):])
                    blobs.setdefault(split, []).append((name, tar.extractfile(member).read()))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataFormatError(f"{archive} is not a readable .tar.gz archive ({error}); delete it and "
                              "get a fresh copy.") from None
    return {split: sorted(entries) for split, entries in blobs.items()}


def _decode(blobs: dict[str, list[tuple[str, bytes]]], where: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: [(split/class/name, bytes)]} -> {split: (images, labels)}, every class checked."""
    from PIL import Image

    out = {}
    for split, entries in blobs.items():
        for name, _ in entries:
            if name.count("/") < 2:
                raise DataFormatError(f"{where}: {name} is not inside a class folder: expected "
                                      f"{split}/<class>/<image>.")
        found = {name.split("/")[1] for name, _ in entries}
        unknown, missing = sorted(found - set(CLASSES)), [c for c in CLASSES if c not in found]
        if unknown:
            raise DataFormatError(f"{where}: class folders {unknown} are not CIFAR-10's classes; expected "
                                  f"{split}/<class>/ with class in {', '.join(CLASSES)}.")
        if missing:
            raise DataFormatError(f"{where}: {split}/{missing[0]}/ is missing or holds no images"
                                  + (f" (and {len(missing) - 1} more classes)" if len(missing) > 1 else "")
                                  + ": every one of the ten classes needs its folder; get a complete copy.")
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
            images[i], labels[i] = pixels, CLASSES.index(name.split("/")[1])
        # Class folders list the images class by class; mix them once, the same way every time,
        # so that the first images of a split show all classes, as in the original files.
        order = np.random.default_rng(2009).permutation(len(labels))
        out[split] = (images[order], labels[order])
    if not out:
        raise DataFormatError(f"{where} holds no images in train/<class>/ or test/<class>/: expected "
                              "train/<class>/*.jpg (or .png) and test/<class>/*.jpg with CIFAR-10's class names.")
    return out


def _is_image(name: str) -> bool:
    # "._0001.jpg" is macOS metadata that looks like an image; hidden files are never images here.
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _image_stats(folder: Path) -> list[tuple[str, os.stat_result]]:
    """(path, stat) of every image file under ``folder``, sorted by path: what is decoded, and what
    stamps the cache. os.scandir is 3x faster than Path.rglob here.

    Symlinked folders are followed; a symlink loop (a link to itself, or to a folder above it,
    which would list the same images again and again) is a DataFormatError naming the link.
    """
    resolved = Path(folder).resolve()
    found, pending = [], [(str(folder), frozenset(_identity(p) for p in resolved.parents))]
    while pending:
        path, above = pending.pop()
        here = _identity(path)
        if here in above:
            raise _symlink_loop(path)
        above = above | {here}
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_dir() and not entry.name.startswith("."):
                        pending.append((entry.path, above))
                    elif entry.is_file() and _is_image(entry.name):
                        found.append((entry.path, entry.stat()))
                except OSError as error:
                    if error.errno == errno.ELOOP:
                        raise _symlink_loop(entry.path) from None
                    raise
    return sorted(found)


def _identity(path: str | Path) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino


def _symlink_loop(path: str | Path) -> DataFormatError:
    return DataFormatError(f"{path} is a symlink loop (it leads back to itself or to a folder above it): "
                           "remove that link, or make it point at the images themselves.")


# --- the cache ----------------------------------------------------------------------------------

def _cache_namer(source: Path, root: Path) -> Callable[[str], Path]:
    """split -> its cache file: cifar10-<split>-<where the images are>-<their state>.npz.

    An archive is stamped by its size and times. A folder is stamped by every image file under
    train/ and test/ (name, size, times: an image added, removed or rewritten is noticed), not by
    the folder itself: when the images sit directly in root, writing root/.cache changes root's
    own mtime and would spoil the key. Listing 60,000 files takes a fraction of a second.
    The times are the mtime and the ctime, with the inode: cp -p, rsync and tar give a rewritten file
    its old mtime back (and its size may be the same), but POSIX systems set the ctime on every write
    (Windows reports the creation time instead), and a file replaced by another has a new inode.
    """
    if source.is_file():
        stamped = [(source.name, source.stat())]
    else:
        stamped = [entry for s in SPLITS if (source / s).is_dir() for entry in _image_stats(source / s)]
    where = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:8]
    state = hashlib.sha1("|".join(f"{name}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"
                                  for name, st in stamped).encode())
    folder = cache_folder(root)
    return lambda split: folder / f"cifar10-{split}-{where}-{state.hexdigest()[:12]}.npz"


def cache_folder(root: Path) -> Path:
    # Write bits as well as os.access: root may write anywhere, but a folder marked read-only
    # (a shared copy of the data) should stay untouched.
    if root.is_dir() and os.access(root, os.W_OK) and root.stat().st_mode & 0o222:
        return root / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cifar_helpers"


def _read_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path) as arrays:
            images, labels = arrays["images"], arrays["labels"]
        if images.dtype != np.uint8 or images.shape[1:] != (32, 32, 3) or len(labels) != len(images):
            raise ValueError(f"arrays of shape {images.shape} and {labels.shape}")
        return images, labels
    except Exception as error:  # truncated, garbage, or not ours: rebuild it
        print(f"The cache {path} could not be read ({type(error).__name__}: {error}); decoding the images again.")
        try:
            path.unlink()
        except OSError:
            pass
        return None


def _write_cache(cache_file: Callable[[str], Path], decoded: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for split, (images, labels) in decoded.items():
        fresh = cache_file(split)
        try:
            with atomic_write(fresh, what="image cache") as f:
                np.savez(f, images=images, labels=labels)
        except OSError as error:  # the arrays are decoded: go on without a cache, and say so once
            reason = getattr(error.__cause__, "strerror", None) or error.__cause__ or error
            print(f"Could not write the image cache in {fresh.parent} ({reason}); going on without it: "
                  "the images will be decoded again next time.")
            return
        for stale in fresh.parent.glob(fresh.name.rsplit("-", 1)[0] + "-*.npz"):
            if stale != fresh:  # the same place's images as they were before a change (up to 154 MB)
                stale.unlink(missing_ok=True)
