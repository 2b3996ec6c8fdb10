"""load_cifar10: synthetic data, subsets, class-folder images (folder and .tar.gz), caching (and
caches that break), torchvision's files, and one clear error for each kind of bad input."""

import io
import os
import pickle
import tarfile
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


def write_archive(path, files):
    """A .tar.gz holding ``files`` ({member name: bytes})."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
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
    with pytest.raises(DataNotFoundError, match="download=True"):  # papermill's "false" is no download either
        load_cifar10("train", root=tmp_path / "empty", download="false")
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
