"""load_cifar10: synthetic data, subsets, class-folder images (folder and .tar.gz), caching (and
caches that break), torchvision's files, archives that try to write outside their folder, and
one clear error for each kind of bad input."""

import errno
import io
import os
import pickle
import tarfile
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

import cifar_helpers.core.files
import cifar_helpers.data.image_folders as image_folders
from cifar_helpers import CLASSES, DataFormatError, DataNotFoundError, as_torchvision_dataset, load_cifar10

# --- helpers --------------------------------------------------------------------------------


def _pixels(value):
    """A 32x32 RGB image whose three channels differ, so a channel mix-up shows."""
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = value, 255 - value, value // 2
    return image


def _encode(image, fmt):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


# (path relative to the data root, pixel value): PNG and JPEG, both splits, every class (a copy
# without one of them is refused).
IMAGES = {
    "train/cat/0.png": 10, "train/cat/1.png": 60, "train/cat/2.jpg": 110,
    "train/ship/0.png": 160, "train/ship/1.png": 210,
    "test/cat/0.png": 30, "test/ship/0.jpg": 230,
    **{f"{split}/{name}/0.png": 20 + 20 * i for split in ("train", "test")
       for i, name in enumerate(CLASSES) if name not in ("cat", "ship")},
}
TRAIN_IMAGES = sum(name.startswith("train/") for name in IMAGES)


def write_images(root, images=IMAGES):
    for name, value in images.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_encode(_pixels(value), "JPEG" if name.endswith(".jpg") else "PNG"))
    return root


def write_archive(path, files, mode="w:gz", links=()):
    """A .tar.gz holding ``files`` ({member name: bytes}), then ``links``: (name, kind, target) with
    kind "symlink", "hardlink", "device" (a character device, as /dev/null) or "file" (target: bytes)."""
    with tarfile.open(path, mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, kind, target in links:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(target)
                tar.addfile(info, io.BytesIO(target))
                continue
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "device": tarfile.CHRTYPE}[kind]
            if kind == "device":
                info.devmajor, info.devminor = 1, 3
            else:
                info.linkname = target
            tar.addfile(info)
    return path


def image_files(images=IMAGES, prefix=""):
    return {prefix + name: _encode(_pixels(value), "JPEG" if name.endswith(".jpg") else "PNG")
            for name, value in images.items()}


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def check_decoded(split, name="train", images=IMAGES):
    """The split holds exactly the images written for ``name``/, each with its class's label."""
    expected = sorted((v, CLASSES.index(n.split("/")[1])) for n, v in images.items() if n.startswith(name + "/"))
    got = sorted((int(image[0, 0, 0]), int(label)) for image, label in zip(split.images, split.labels))
    assert split.images.shape == (len(expected), 32, 32, 3) and split.images.dtype == np.uint8
    assert split.labels.dtype == np.int64
    for (value, label), (expected_value, expected_label) in zip(got, expected):
        assert abs(value - expected_value) <= 4 and label == expected_label  # JPEG shifts values a little
    green = split.images[:, 0, 0, 1].astype(int)
    assert np.all(np.abs(green - (255 - split.images[:, 0, 0, 0].astype(int))) <= 8)  # RGB order kept


# --- synthetic data and subsets ----------------------------------------------------------------


def test_synthetic_shapes_types_and_announcement(capsys):
    train = load_cifar10("train", source="synthetic")
    assert "SYNTHETIC" in capsys.readouterr().out
    assert train.images.shape == (2000, 32, 32, 3) and train.images.dtype == np.uint8
    assert train.labels.shape == (2000,) and train.labels.dtype == np.int64
    assert train.labels.min() >= 0 and train.labels.max() <= 9
    assert set(np.unique(train.labels)) == set(range(10))
    assert train.classes == CLASSES and train.source == "synthetic"


def test_synthetic_is_deterministic_and_splits_differ():
    a = load_cifar10("test", source="synthetic", verbose=False)
    b = load_cifar10("test", source="synthetic", verbose=False)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    train = load_cifar10("train", source="synthetic", verbose=False)
    assert len(a) == 500 and not np.array_equal(a.images, train.images[:500])


def test_subset_size_and_seed():
    assert len(load_cifar10("train", source="synthetic", subset=100, seed=None, verbose=False).labels) == 100
    a = load_cifar10("train", source="synthetic", subset=100, seed=1, verbose=False)
    again = load_cifar10("train", source="synthetic", subset=100, seed=1, verbose=False)
    other = load_cifar10("train", source="synthetic", subset=100, seed=2, verbose=False)
    assert len(a) == 100 and a.images.shape == (100, 32, 32, 3)
    np.testing.assert_array_equal(a.images, again.images)
    np.testing.assert_array_equal(a.labels, again.labels)
    assert not np.array_equal(a.images, other.images)
    full = load_cifar10("train", source="synthetic", verbose=False)  # a subset is drawn from the split
    assert any(np.array_equal(a.images[0], image) for image in full.images)


# --- class-folder images -------------------------------------------------------------------------


def test_class_folders_in_a_folder(tmp_path):
    root = write_images(tmp_path / "data")
    train = load_cifar10("train", root=root, verbose=False)
    test = load_cifar10("test", root=root, verbose=False)
    assert train.source == "local"
    check_decoded(train)
    check_decoded(test, "test")


def test_class_folders_one_folder_below_root(tmp_path):
    write_images(tmp_path / "data" / "cifar10-images")
    check_decoded(load_cifar10("train", root=tmp_path / "data", verbose=False))


@pytest.mark.parametrize("prefix", ["", "cifar10/"])
def test_class_folders_in_a_tar_gz(tmp_path, prefix):
    root = tmp_path / "data"
    root.mkdir()
    write_archive(root / "cifar10-images.tar.gz", image_files(prefix=prefix))
    check_decoded(load_cifar10("train", root=root, verbose=False))
    check_decoded(load_cifar10("test", root=root, verbose=False), "test")


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "tar.gz"])
def test_second_load_reads_the_cache(tmp_path, monkeypatch, packed):
    root = tmp_path / "data"
    if packed:
        root.mkdir()
        write_archive(root / "images.tar.gz", image_files())
    else:
        write_images(root)
    first = load_cifar10("train", root=root, verbose=False)
    assert list((root / ".cache").glob("cifar10-train-*.npz"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded the images again instead of reading the cache")

    monkeypatch.setattr(image_folders, "_decode", no_decoding)
    again = load_cifar10("train", root=root, verbose=False)
    test = load_cifar10("test", root=root, verbose=False)  # cached by the first load too
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.labels, again.labels)
    check_decoded(test, "test")
    assert not list(root.rglob("*.tmp"))


def test_an_image_added_or_rewritten_in_a_class_folder_is_not_missed(tmp_path):
    root = write_images(tmp_path / "data")
    assert len(load_cifar10("train", root=root, verbose=False)) == TRAIN_IMAGES
    write_images(root, {"train/ship/2.png": 40})
    assert len(load_cifar10("train", root=root, verbose=False)) == TRAIN_IMAGES + 1
    write_images(root, {"train/cat/1.png": 200})  # same name, new pixels
    os.utime(root / "train" / "cat" / "1.png", ns=(0, 10**18))  # a distinct mtime even on a coarse clock
    assert 200 in load_cifar10("train", root=root, verbose=False).images[..., 0]
    # Each change replaced the cache of the images as they were: one file per split, no pile-up.
    assert len(list((root / ".cache").glob("cifar10-train-*.npz"))) == 1
    assert len(list((root / ".cache").glob("cifar10-test-*.npz"))) == 1


@pytest.mark.skipif(os.name == "nt", reason="Windows has no change time (its st_ctime is the creation time)")
@pytest.mark.parametrize("packed", [False, True], ids=["folder", "tar.gz"])
def test_a_source_rewritten_at_the_same_size_and_mtime_is_not_missed(tmp_path, packed):
    # cp -p, rsync and tar keep a file's mtime: a rewrite that keeps the size too must still be seen.
    root = tmp_path / "data"
    old_value = IMAGES["train/cat/1.png"]
    old = _encode(_pixels(old_value), "PNG")
    new_value = next(v for v in range(256) if abs(v - old_value) > 40 and len(_encode(_pixels(v), "PNG")) == len(old))
    changed = {**IMAGES, "train/cat/1.png": new_value}
    if packed:  # an uncompressed tar under the .tar.gz name: its size does not depend on the pixels
        root.mkdir()
        source = write_archive(root / "images.tar.gz", image_files(), mode="w")
    else:
        source = write_images(root) / "train" / "cat" / "1.png"
    check_decoded(load_cifar10("train", root=root, verbose=False))  # decoded and cached
    before = source.stat()
    time.sleep(0.05)  # file times come from a clock that ticks every few ms: let the rewrite's ctime differ
    if packed:
        write_archive(source, image_files(changed), mode="w")
    else:
        source.write_bytes(_encode(_pixels(new_value), "PNG"))
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = source.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    check_decoded(load_cifar10("train", root=root, verbose=False), images=changed)


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "tar.gz"])
@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_labels_follow_cifar10s_class_order_whatever_order_the_folders_come_in(tmp_path, packed, order):
    """Each image's label is its folder's place in CLASSES, not the place of its folder in a listing."""
    classes = CLASSES[::-1] if order == "reversed" else [str(c) for c in np.random.default_rng(7).permutation(CLASSES)]
    # A pixel value per class and image, so that every image shows the label it should have.
    images = {f"{split}/{name}/{k}.png": 10 + 20 * CLASSES.index(name) + k
              for name in classes for split in ("train", "test") for k in range(2)}
    root = tmp_path / "data"
    if packed:  # members in that order
        root.mkdir()
        write_archive(root / "images.tar.gz", image_files(images))
    else:  # folders made in that order, after a hidden one that is not a class
        write_images(root, {"train/.ipynb_checkpoints/0.png": 250})
        write_images(root, images)
    for split in ("train", "test"):
        check_decoded(load_cifar10(split, root=root, verbose=False), split, images)


def test_a_symlinked_class_folder_is_followed(tmp_path):
    root = write_images(tmp_path / "data")
    (root / "train" / "cat").rename(tmp_path / "cats")
    os.symlink(tmp_path / "cats", root / "train" / "cat")
    check_decoded(load_cifar10("train", root=root, verbose=False))


@pytest.mark.parametrize("link, target", [
    ("train/cat/again", "."),  # a folder that holds itself
    ("train/cat/up", "../.."),  # a folder that holds the data folder
    ("train/cat/to-the-top", "/"),
    ("train/cat/self.png", "self.png"),  # a link to itself
], ids=["itself", "data folder", "root", "file"])
def test_a_symlink_loop_in_a_data_folder_is_one_clear_error(tmp_path, link, target):
    root = write_images(tmp_path / "data")
    os.symlink(target, root / link)
    with pytest.raises(DataFormatError, match="symlink loop") as error:
        load_cifar10("train", root=root, verbose=False)
    message = str(error.value)
    assert str(root / link) + " " in message and "\n" not in message


def test_read_only_data_folder_caches_under_xdg_cache_home(tmp_path, monkeypatch):
    root = write_images(tmp_path / "data")
    cache_home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    before = files_under(root)
    folders = [root, *[p for p in root.rglob("*") if p.is_dir()]]
    for folder in folders:
        folder.chmod(0o555)
    try:
        check_decoded(load_cifar10("train", root=root, verbose=False))
        assert files_under(root) == before
        assert list((cache_home / "cifar_helpers").glob("cifar10-train-*.npz"))
    finally:
        for folder in folders:
            folder.chmod(0o755)


# --- torchvision's pickled batches ----------------------------------------------------------------


@pytest.fixture
def made_up_pixels_pass_torchvisions_check(monkeypatch):
    """torchvision checks its files' MD5 sums; files with made-up pixels pass only this way."""
    import torchvision.datasets.cifar

    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)


def _torchvision_batches(folder, per_batch=3):
    """torchvision's files with made-up pixels: data (n, 3072) uint8 planes R, G, B; labels a list."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    expected = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        nhwc = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        data = nhwc.transpose(0, 3, 1, 2).reshape(per_batch, 3072)  # CIFAR's row: 1024 R, 1024 G, 1024 B
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=2))
        expected[name] = (nhwc, labels)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CLASSES)}, protocol=2))
    return expected


def test_torchvision_pickles_read_as_nhwc(tmp_path, made_up_pixels_pass_torchvisions_check):
    expected = _torchvision_batches(tmp_path / "data" / "cifar-10-batches-py")
    train = load_cifar10("train", root=tmp_path / "data", download=False, verbose=False)
    test = load_cifar10("test", root=tmp_path / "data", download=False, verbose=False)
    names = [f"data_batch_{i}" for i in range(1, 6)]
    np.testing.assert_array_equal(train.images, np.concatenate([expected[n][0] for n in names]))
    np.testing.assert_array_equal(train.labels, sum((expected[n][1] for n in names), []))
    np.testing.assert_array_equal(test.images, expected["test_batch"][0])
    assert train.images.shape == (15, 32, 32, 3) and train.images.flags.c_contiguous
    assert train.labels.dtype == np.int64 and train.source == "local"


def test_torchvision_archive_is_unpacked_and_read_too(tmp_path, made_up_pixels_pass_torchvisions_check):
    expected = _torchvision_batches(tmp_path / "batches" / "cifar-10-batches-py")
    root = tmp_path / "data"
    root.mkdir()
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "batches" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    test = load_cifar10("test", root=root, download=False, verbose=False)
    np.testing.assert_array_equal(test.images, expected["test_batch"][0])
    assert sorted(p.name for p in root.iterdir()) == [".cache", "cifar-10-python.tar.gz"]
    assert sorted(p.name for p in (root / ".cache").iterdir()) == ["cifar-10-batches-py"]  # no leftovers
    (root / "cifar-10-python.tar.gz").write_bytes(b"")  # unpacked once: the archive is not read again
    assert load_cifar10("train", root=root, download=False, verbose=False).name == "train"


def test_a_read_only_torchvision_archive_is_unpacked_into_the_users_cache(
        tmp_path, monkeypatch, made_up_pixels_pass_torchvisions_check):
    expected = _torchvision_batches(tmp_path / "batches" / "cifar-10-batches-py")
    root = tmp_path / "shared"
    root.mkdir()
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "batches" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    root.chmod(0o555)
    try:
        test = load_cifar10("test", root=root, download=False, verbose=False)
    finally:
        root.chmod(0o755)
    np.testing.assert_array_equal(test.images, expected["test_batch"][0])
    assert [p.name for p in root.iterdir()] == ["cifar-10-python.tar.gz"], "the shared folder is untouched"
    assert (tmp_path / "home-cache" / "cifar_helpers" / "cifar-10-batches-py" / "test_batch").is_file()


def test_torchvision_folder_that_is_damaged(tmp_path):
    _torchvision_batches(tmp_path / "cifar-10-batches-py")  # made-up pixels: torchvision's MD5 check fails
    with pytest.raises(DataFormatError, match=r"cifar-10-batches-py is incomplete or damaged.*delete it"):
        load_cifar10("train", root=tmp_path, download=False)


# --- archives that try to write outside the folder they are unpacked into -------------------------


def _escapes(top, outside):
    """{case: (files, links, the member the error names)}: members of an archive whose top folder is
    ``top`` that try to land outside the folder it is unpacked into; ``outside`` is a folder there."""
    png = _encode(_pixels(99), "PNG")
    through = "../" * (top.count("/") + 4) + "outside"  # from top/ in data/.cache/.unpacking-*/ to outside/
    return {
        "dot-dot": ({"../escaped.png": png}, [], "../escaped.png"),
        "dot-dot inside a name": ({f"{top}/../../escaped.png": png}, [], f"{top}/../../escaped.png"),
        "absolute path": ({f"{outside}/escaped.png": png}, [], f"{outside}/escaped.png"),
        "symlink to /etc/passwd": ({}, [(f"{top}/passwd.png", "symlink", "/etc/passwd")], f"{top}/passwd.png"),
        "symlink out, then a file through it": (
            {}, [(f"{top}/out", "symlink", through), (f"{top}/out/escaped.png", "file", png)],
            f"{top}/out"),
        "hard link to a file outside": (
            {}, [(f"{top}/secret.png", "hardlink", f"{outside}/secret")], f"{top}/secret.png"),
        "device file": ({}, [(f"{top}/null.png", "device", "")], f"{top}/null.png"),
    }


ESCAPES = list(_escapes("top", "/outside"))


def _check_refused(error, archive, member, tmp_path, before):
    """One line naming the archive and the member, and nothing written anywhere but an empty cache folder."""
    message = str(error.value)
    assert "\n" not in message and str(archive) in message and repr(member) in message
    assert "unpack it yourself" not in message  # not for an archive that tries to write outside
    written = sorted(set(tmp_path.rglob("*")) - before)
    assert written in ([], [tmp_path / "data" / ".cache"]), written
    assert not any((tmp_path / "data" / ".cache").glob("*")) and not any((tmp_path / "data" / ".cache").glob(".*"))
    assert (tmp_path / "outside" / "secret").read_bytes() == b"not for the archive"


@pytest.fixture
def outside(tmp_path):
    """A folder beside the data folder, with a file in it that no archive may reach."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"not for the archive")
    return tmp_path / "outside"


@pytest.mark.parametrize("case", ESCAPES + ["link through a link"])
def test_a_torchvision_archive_that_leaves_its_folder_is_refused(tmp_path, outside, case,
                                                                 made_up_pixels_pass_torchvisions_check):
    _torchvision_batches(tmp_path / "batches" / "cifar-10-batches-py")
    top = "cifar-10-batches-py"
    files = {f"{top}/{p.name}": p.read_bytes() for p in (tmp_path / "batches" / top).iterdir()}
    if case == "link through a link":  # each link stays inside by name; on disk, up/ leads out through here/
        evil, links, member = {}, [(f"{top}/here", "symlink", "."), (f"{top}/here/up", "symlink", "../../x")], \
            f"{top}/here/up"
    else:
        evil, links, member = _escapes(top, outside)[case]
    root = tmp_path / "data"
    root.mkdir()
    archive = write_archive(root / "cifar-10-python.tar.gz", {**files, **evil}, links=links)
    before = set(tmp_path.rglob("*"))
    with pytest.raises(DataFormatError) as error:
        load_cifar10("test", root=root, download=False, verbose=False)
    _check_refused(error, archive, member, tmp_path, before)
    if case == "link through a link":
        assert "would be written outside" in str(error.value)  # found by tarfile's data filter, on disk


@pytest.mark.parametrize("case", ESCAPES)
def test_a_class_folder_archive_that_leaves_its_folder_is_refused(tmp_path, outside, case):
    evil, links, member = _escapes("train/cat", outside)[case]
    root = tmp_path / "data"
    root.mkdir()
    archive = write_archive(root / "images.tar.gz", {**image_files(), **evil}, links=links)
    before = set(tmp_path.rglob("*"))
    with pytest.raises(DataFormatError) as error:
        load_cifar10("train", root=root, verbose=False)
    _check_refused(error, archive, member, tmp_path, before)


@pytest.mark.parametrize("filters", [True, False], ids=["data filter", "Python without filters"])
def test_links_that_stay_inside_a_torchvision_archive(tmp_path, monkeypatch, filters,
                                                      made_up_pixels_pass_torchvisions_check):
    """Links that stay inside are unpacked where tarfile's data filter checks them on disk, refused
    where Python has no filters (the name check alone cannot follow a link through another)."""
    expected = _torchvision_batches(tmp_path / "batches" / "cifar-10-batches-py")
    top = "cifar-10-batches-py"
    files = {f"{top}/{p.name}": p.read_bytes() for p in (tmp_path / "batches" / top).iterdir()}
    root = tmp_path / "data"
    root.mkdir()
    write_archive(root / "cifar-10-python.tar.gz", files, links=[
        (f"{top}/readme.html", "symlink", "batches.meta"), (f"{top}/meta", "hardlink", f"{top}/batches.meta")])
    if not filters:
        monkeypatch.delattr(tarfile, "data_filter")
        with pytest.raises(DataFormatError, match=r"'cifar-10-batches-py/readme.html', which is a link, and this "
                                                  r"Python has no tarfile extraction filters"):
            load_cifar10("test", root=root, download=False, verbose=False)
        assert not any((root / ".cache").iterdir())
        return
    np.testing.assert_array_equal(load_cifar10("test", root=root, download=False, verbose=False).images,
                                  expected["test_batch"][0])
    assert (root / ".cache" / top / "readme.html").resolve() == (root / ".cache" / top / "batches.meta").resolve()


# --- bad inputs: one clear error each ---------------------------------------------------------------


@pytest.mark.parametrize("kwargs, pattern", [
    ({"split": "val"}, "split='val'"),
    ({"source": "bogus"}, "source='bogus'"),
    ({"subset": 0}, "subset=0"),
    ({"subset": -5}, "subset=-5"),
    ({"subset": 2.5}, "subset=2.5"),
    ({"subset": True}, "subset=True"),
    ({"seed": -1}, "seed=-1"),
    ({"seed": "zero"}, "seed='zero'"),
    ({"download": "perhaps"}, "download='perhaps'"),
])
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_cifar10(**{"source": "synthetic", **kwargs})


def test_no_data_and_no_download(tmp_path):
    with pytest.raises(DataNotFoundError, match="synthetic") as error:
        load_cifar10("train", root=tmp_path / "empty", download=False)
    assert isinstance(error.value, FileNotFoundError)
    assert "download=True" in str(error.value)
    with pytest.raises(DataNotFoundError):
        load_cifar10("train", root=tmp_path, source="local")


def test_no_data_and_no_network(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataNotFoundError) as error:
        load_cifar10("train", root=tmp_path / "data", download=True)
    message = str(error.value)
    assert "could not be downloaded" in message and "no network in this test" in message
    assert "source='synthetic'" in message and "local copy" in message


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_tar_gz(tmp_path, damage):
    archive = tmp_path / "images.tar.gz"
    if damage == "garbage":
        archive.write_bytes(os.urandom(2000))
    else:
        write_archive(archive, image_files())
        archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(DataFormatError, match="images.tar.gz"):
        load_cifar10("train", root=tmp_path, verbose=False)


def test_images_without_class_folders(tmp_path):
    write_images(tmp_path, {"train/0.png": 10, "train/1.png": 20})
    with pytest.raises(DataFormatError, match="class folder"):
        load_cifar10("train", root=tmp_path, verbose=False)


def test_class_folders_that_are_not_cifar10(tmp_path):
    write_images(tmp_path, {"train/kangaroo/0.png": 10, "train/cat/0.png": 20})
    with pytest.raises(DataFormatError, match="kangaroo"):
        load_cifar10("train", root=tmp_path, verbose=False)


def test_split_folder_missing(tmp_path):
    write_images(tmp_path, {name: value for name, value in IMAGES.items() if name.startswith("train/")})
    with pytest.raises(DataFormatError, match="no test/ folder"):
        load_cifar10("test", root=tmp_path, verbose=False)


def test_image_of_the_wrong_size(tmp_path):
    write_images(tmp_path)
    Image.fromarray(np.zeros((16, 20, 3), dtype=np.uint8)).save(tmp_path / "train" / "cat" / "0.png")
    with pytest.raises(DataFormatError, match="20x16"):
        load_cifar10("train", root=tmp_path, verbose=False)


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "tar.gz"])
def test_a_missing_class_folder_is_refused_by_name(tmp_path, packed):
    images = {name: value for name, value in IMAGES.items() if not name.startswith("train/cat/")}
    if packed:
        write_archive(tmp_path / "images.tar.gz", image_files(images))
    else:
        write_images(tmp_path, images)
    with pytest.raises(DataFormatError, match=r"train/cat/ is missing or holds no images"):
        load_cifar10("train", root=tmp_path, verbose=False)


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "tar.gz"])
def test_macos_metadata_files_are_skipped(tmp_path, packed):
    extra = {"train/cat/._0.png": b"\x00\x05\x16\x07 not an image", "train/.DS_Store": b"junk"}
    if packed:
        write_archive(tmp_path / "images.tar.gz", {**image_files(), **extra})
    else:
        write_images(tmp_path)
        for name, data in extra.items():
            (tmp_path / name).write_bytes(data)
    check_decoded(load_cifar10("train", root=tmp_path, verbose=False))


# --- caches that break: they are an optimisation and never stop a load ----------------------------


@pytest.mark.parametrize("damage", ["truncated", "garbage", "wrong arrays"])
def test_an_unreadable_cache_is_rebuilt_with_a_notice(tmp_path, capsys, damage):
    root = write_images(tmp_path / "data")
    first = load_cifar10("train", root=root, verbose=False)
    cache = next((root / ".cache").glob("cifar10-train-*.npz"))
    if damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:1000])
    elif damage == "garbage":
        cache.write_bytes(os.urandom(3000))
    else:
        np.savez(cache.open("wb"), images=np.zeros((3, 8), np.uint8), labels=np.zeros(3))
    capsys.readouterr()
    again = load_cifar10("train", root=root, verbose=False)
    np.testing.assert_array_equal(again.images, first.images)
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "could not be read" in out and cache.name in out
    np.testing.assert_array_equal(load_cifar10("train", root=root, verbose=False).images, first.images)
    assert capsys.readouterr().out == ""  # rebuilt: read quietly from now on


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_cache_that_cannot_be_written_is_skipped_with_one_notice(tmp_path, monkeypatch, capsys):
    root = write_images(tmp_path / "data")
    monkeypatch.setattr(cifar_helpers.core.files, "_open_temporary", lambda tmp: open("/dev/full", "wb"))
    check_decoded(load_cifar10("train", root=root, verbose=False))
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    assert "Could not write the image cache" in out and "No space left on device" in out and "going on" in out
    assert not list(root.rglob("*.npz")) and not list(root.rglob("*.tmp"))


def test_a_cache_being_read_is_replaced_not_overwritten(tmp_path, monkeypatch):
    """Two loads at once (two notebooks) can write the same cache: a load that is reading the file
    another wrote keeps reading all of it, as the new file is renamed into place."""
    root = write_images(tmp_path / "data")
    load_cifar10("train", root=root, verbose=False)
    cache = next((root / ".cache").glob("cifar10-train-*.npz"))
    older = b"the cache as the other load wrote it " * 100
    cache.write_bytes(older)
    with cache.open("rb") as reader, monkeypatch.context() as patched:
        patched.setattr(image_folders, "_read_cache", lambda path: None)  # this load found no cache yet
        check_decoded(load_cifar10("train", root=root, verbose=False))
        assert reader.read() == older
    with np.load(cache) as arrays:  # and the file now in place is the complete new cache
        assert arrays["images"].shape == (TRAIN_IMAGES, 32, 32, 3)
    assert not list(root.rglob("*.tmp"))


def test_a_cache_write_that_fails_midway_leaves_the_old_cache_and_no_temporary_file(tmp_path, monkeypatch, capsys):
    root = write_images(tmp_path / "data")
    load_cifar10("train", root=root, verbose=False)
    cache = next((root / ".cache").glob("cifar10-train-*.npz"))
    older = cache.read_bytes()

    def half_then_a_full_disk(file, **arrays):
        file.write(older[: len(older) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(image_folders, "_read_cache", lambda path: None)  # decode and write the cache again
        patched.setattr(np, "savez", half_then_a_full_disk)
        capsys.readouterr()
        check_decoded(load_cifar10("train", root=root, verbose=False))
    assert "Could not write the image cache" in capsys.readouterr().out
    assert cache.read_bytes() == older
    assert sorted(p.name for p in (root / ".cache").iterdir()) == sorted(
        p.name for p in (root / ".cache").glob("cifar10-*.npz")), "a temporary file was left behind"


@pytest.mark.parametrize("split", ["train", "test"])
def test_as_torchvision_dataset_is_what_torchvisions_cifar10_gives(tmp_path, made_up_pixels_pass_torchvisions_check,
                                                                    split):
    from torchvision.datasets import CIFAR10
    from torchvision.transforms import ToTensor

    _torchvision_batches(tmp_path / "cifar-10-batches-py")
    theirs = CIFAR10(str(tmp_path), train=split == "train", transform=ToTensor())
    ours = as_torchvision_dataset(load_cifar10(split, root=tmp_path, download=False, verbose=False), ToTensor())
    assert type(ours) is type(theirs) and len(ours) == len(theirs)
    assert (ours.train, ours.classes, ours.class_to_idx) == (theirs.train, theirs.classes, theirs.class_to_idx)
    for i in range(len(theirs)):
        (a, label_a), (b, label_b) = ours[i], theirs[i]
        assert label_a == label_b and torch.equal(a, b)
