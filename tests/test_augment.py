"""Mirroring: RandomFlip on uint8 training batches, mirror_batch and Model(..., mirror=True) at test time."""

import numpy as np
import pytest
import torch

from cifar_helpers import RandomCrop, RandomFlip, mirror_batch, shift_batch
from cifar_helpers.training.metrics import classification_accuracy


@pytest.fixture
def batch(synthetic_train):
    return synthetic_train.images[:200], synthetic_train.labels[:200]


def test_random_flip_mirrors_about_half_and_leaves_labels_alone(batch):
    images, labels = batch
    flipped, same_labels = RandomFlip(seed=0)(batch)
    assert flipped.shape == images.shape and flipped.dtype == np.uint8
    assert same_labels is labels
    mirrored = np.array([np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, images)])
    unchanged = np.array([np.array_equal(f, i) for f, i in zip(flipped, images)])
    assert (mirrored | unchanged).all()           # every image is itself or its mirror
    assert 70 <= mirrored.sum() <= 130            # about half of 200
    before = images.copy()
    RandomFlip(p=1)(batch)
    assert np.array_equal(images, before)         # the input array is not modified


def test_random_flip_p_0_and_1_and_batch_type(batch):
    images, labels = batch
    assert np.array_equal(RandomFlip(p=0)(batch)[0], images)
    assert np.array_equal(RandomFlip(p=1)(batch)[0], images[:, :, ::-1])
    assert isinstance(RandomFlip(seed=1)(list(batch)), list)


def test_random_flip_repeats_with_a_seed(batch):
    a, b = RandomFlip(seed=3), RandomFlip(seed=3)
    for _ in range(3):
        assert np.array_equal(a(batch)[0], b(batch)[0])
    assert not np.array_equal(RandomFlip(seed=3)(batch)[0], RandomFlip(seed=4)(batch)[0])


def test_random_flip_takes_numpy_numbers():
    assert RandomFlip(p=np.float32(0.5)).p == 0.5


@pytest.mark.parametrize("p", [-0.1, 1.5, "half", True])
def test_random_flip_refuses_a_bad_p(p):
    with pytest.raises(ValueError, match="p=.*between 0 and 1"):
        RandomFlip(p=p)


@pytest.mark.parametrize("pad", [0, 2.7, True, "two"])
def test_random_crop_refuses_a_pad_that_is_not_a_positive_whole_number(pad):
    with pytest.raises(ValueError, match=r"pad=.* must be a positive whole number"):
        RandomCrop(pad=pad)


def test_random_crop_is_a_window_of_the_reflect_padded_image_at_every_offset(batch):
    """Each output is the image shifted by up to 2 pixels, edges reflected; all 25 shifts occur."""
    images, labels = batch
    cropped, same_labels = RandomCrop(pad=2, seed=0)(batch)
    assert cropped.shape == images.shape and cropped.dtype == np.uint8 and same_labels is labels
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    offsets = set()
    for i, out in enumerate(cropped):
        found = [(dy, dx) for dy in range(5) for dx in range(5)
                 if np.array_equal(out, padded[i, dy:dy + 32, dx:dx + 32])]
        assert found, f"image {i} is not a window of its reflect-padded self"
        offsets.update(found)
    assert offsets == {(dy, dx) for dy in range(5) for dx in range(5)}


def test_random_crop_repeats_with_a_seed(batch):
    a, b = RandomCrop(seed=3), RandomCrop(seed=3)
    for _ in range(2):
        assert np.array_equal(a(batch)[0], b(batch)[0])
    assert not np.array_equal(RandomCrop(seed=3)(batch)[0], RandomCrop(seed=4)(batch)[0])


def test_shift_batch_moves_the_pixels_down_and_right_by_positive_amounts(synthetic_tensors):
    images, labels = synthetic_tensors
    x = images[:4]
    assert torch.equal(shift_batch(x, 0, 0), x)
    y = labels[:4]
    shifted, same_labels = shift_batch((x, y), 1, 2)
    assert torch.equal(shifted[..., 1:, 2:], x[..., :-1, :-2]) and same_labels is y
    assert torch.equal(shifted[..., 0, 2:], x[..., 1, :-2]), "the edge row is reflected"
    assert torch.equal(shift_batch(x, -1, -1)[..., :-1, :-1], x[..., 1:, 1:])


def test_random_flip_refuses_tensors_in_the_wrong_place(synthetic_tensors):
    x, y = synthetic_tensors  # already (N, 3, 32, 32): mirroring axis 2 would turn them upside down
    for images in (x, x[0]):
        with pytest.raises(ValueError, match="before batch_to_tensors"):
            RandomFlip()((images, y))


def test_mirror_batch_flips_the_width_axis_only(synthetic_tensors):
    x, y = synthetic_tensors
    mx, my = mirror_batch((x, y))
    assert torch.equal(mx, x.flip(3)) and my is y
    assert torch.equal(mirror_batch(x), x.flip(-1))
    assert isinstance(mirror_batch([x, y]), list)


def test_predict_with_mirror_averages_the_two_outputs(tiny_model, synthetic_tensors):
    x, y = synthetic_tensors
    tiny_model.train()
    averaged = tiny_model.predict((x, y), mirror=True)
    with torch.no_grad():
        tiny_model.eval()
        expected = (tiny_model((x, y)) + tiny_model((x.flip(3), y))) / 2
    torch.testing.assert_close(averaged, expected)
    assert not torch.allclose(averaged, tiny_model.predict((x, y)))  # the mirror does count


def test_evaluate_and_predict_dataset_with_mirror(tiny_model, make_dataset, synthetic_tensors):
    x, y = synthetic_tensors
    data = make_dataset(100, 32)  # 4 batches, the last one smaller
    with torch.no_grad():
        tiny_model.eval()
        out = (tiny_model((x[:100], y[:100])) + tiny_model((x[:100].flip(3), y[:100]))) / 2
    results = tiny_model.evaluate_with_metrics(data, {"accuracy": classification_accuracy}, mirror=True)
    assert results["accuracy"] == pytest.approx((out.argmax(1) == y[:100]).float().mean().item())
    assert tiny_model.evaluate(data, mirror=True) == pytest.approx(torch.nn.functional.nll_loss(out, y[:100]).item())
    torch.testing.assert_close(tiny_model.predict_dataset(data, mirror=True), out)


def test_a_seeded_run_with_flips_in_the_background_loader_repeats_exactly(synthetic_train, losses_of):
    """Trained as notebook 04 does: shuffled DataSet, RandomFlip and batch_to_tensors in the
    background loader, the CNN with dropout, fused Adam."""
    from cifar_helpers import CNN, AsyncDataLoader, DataSet, batch_to_tensors, set_seed

    def run(seed):
        set_seed(seed)
        flip = RandomFlip(seed=seed)
        data = DataSet([synthetic_train.images[:128], synthetic_train.labels[:128]], batch_size=32, shuffle=True)
        model = CNN(dropout=0.3)
        with AsyncDataLoader(data, buffer_size=3, on_batch_loaded=lambda b: batch_to_tensors(flip(b))) as loader:
            return losses_of(model, loader, torch.optim.Adam(model.parameters(), lr=1e-3, fused=True))

    first = run(0)
    assert len(first) == 8
    assert run(0) == first
    assert run(1) != first


# --- torch tensors: the training images kept on a GPU (notebook 6 with cuda) -----------------------


@pytest.mark.parametrize("pad", [1, 2, 5])
def test_a_seed_shifts_and_mirrors_tensors_exactly_as_it_does_numpy_arrays(batch, pad):
    """Same seed, same draws: a GPU run augments its images as a CPU run would (here tensors on the CPU)."""
    images, labels = batch
    images = np.ascontiguousarray(images[:, :, 3:])  # not square: rows and columns must not be mixed up
    tensors = torch.from_numpy(images.copy())
    crop_a, crop_b = RandomCrop(pad, seed=7), RandomCrop(pad, seed=7)
    flip_a, flip_b = RandomFlip(seed=7), RandomFlip(seed=7)
    for _ in range(3):  # the generators stay in step batch after batch
        expected, same_labels = crop_a(flip_a((images, labels)))
        got, got_labels = crop_b(flip_b((tensors, labels)))
        assert isinstance(got, torch.Tensor) and got.dtype == torch.uint8 and got.shape == images.shape
        assert np.array_equal(got.numpy(), expected) and got_labels is labels
    assert np.array_equal(tensors.numpy(), images), "the input tensor is not modified"
    assert not np.array_equal(got.numpy(), images)


def test_a_tensor_crop_reflects_the_edges_without_repeating_them():
    image = torch.arange(5, dtype=torch.uint8).repeat(5, 1)[None, :, :, None]  # columns 0 1 2 3 4
    crop = RandomCrop(pad=2, seed=0)
    crop.rng = type("Fixed", (), {"integers": lambda self, *a, size: np.array([[2], [0]])})()  # dy 0, dx -2
    shifted, _ = crop((image, [0]))
    assert shifted[0, 0, :, 0].tolist() == [2, 1, 0, 1, 2]  # numpy's "reflect": ... 2 1 | 0 1 2 3 4


@pytest.mark.parametrize("augment", [RandomFlip(), RandomCrop()])
def test_augmenters_refuse_channels_first_tensors_and_keep_the_batch_type(augment, synthetic_tensors):
    x, y = synthetic_tensors
    with pytest.raises(ValueError, match=r"got shape \(256, 3, 32, 32\): apply it before batch_to_tensors"):
        augment((x, y))
    images = torch.zeros(4, 32, 32, 3, dtype=torch.uint8)
    assert isinstance(augment([images, y[:4]]), list) and isinstance(augment((images, y[:4])), tuple)


@pytest.mark.parametrize("augment", [RandomFlip, RandomCrop])
@pytest.mark.parametrize("seed", [-1, "zero"])
def test_augmenters_refuse_a_bad_seed_by_name(augment, seed):
    with pytest.raises(ValueError, match=r"^seed=.* must be a whole number >= 0"):
        augment(seed=seed)


# --- AlternatingFlip: every other epoch mirrored (notebook 6) ----------------------------------------


def _ways_seen(images, epoch_batches):
    """For each epoch, an array: 1 where image i (found by its id in the batch's second array) came mirrored."""
    ways = []
    for batches in epoch_batches:
        mirrored = np.full(len(images), -1)
        for batch_images, ids in batches:
            batch_images = batch_images.numpy() if isinstance(batch_images, torch.Tensor) else batch_images
            for image, i in zip(batch_images, np.asarray(ids)):
                if np.array_equal(image, images[i]):
                    mirrored[i] = 0
                elif np.array_equal(image, images[i][:, ::-1]):
                    mirrored[i] = 1
        ways.append(mirrored)
    return ways


@pytest.mark.parametrize("as_tensor", [False, True])
def test_alternating_flip_shows_every_image_both_ways_in_any_two_epochs_running(batch, as_tensor):
    from cifar_helpers import AlternatingFlip, DataSet

    images = batch[0]
    before = images.copy()
    ids = np.arange(len(images))
    stored = torch.from_numpy(images.copy()) if as_tensor else images
    flips = AlternatingFlip(DataSet([stored, ids], batch_size=32, shuffle=True, seed=5), seed=1)
    assert len(flips) == 7
    epochs = [list(flips) for _ in range(4)]
    ways = _ways_seen(images, epochs)
    assert all((w >= 0).all() for w in ways), "every image is seen each epoch, itself or its mirror"
    assert 70 <= ways[0].sum() <= 130, "about half of 200 mirrored in the first epoch"
    for earlier, later in zip(ways, ways[1:]):
        assert np.array_equal(later, 1 - earlier), "the other way round from the epoch before"
    assert np.array_equal(ways[2], ways[0])
    assert all(isinstance(b[0], torch.Tensor) == as_tensor for b in epochs[1])
    assert np.array_equal(images, before) and np.array_equal(np.asarray(stored), before), "the caller's images stay"


def test_alternating_flip_keeps_the_datasets_order_and_draws_the_half_from_its_seed(batch):
    from cifar_helpers import AlternatingFlip, DataSet

    images, labels = batch
    data = DataSet([images, labels], batch_size=50, shuffle=True, drop_last=True, seed=9)
    first = [labels_batch for _, labels_batch in AlternatingFlip(data, seed=0)]
    assert all(np.array_equal(a, b) for a, b in zip(first, [y for _, y in data.restarted()]))
    again = [x for x, _ in AlternatingFlip(data, seed=0)]
    assert all(np.array_equal(a, b) for a, b in zip(again, [x for x, _ in AlternatingFlip(data, seed=0)]))
    assert not all(np.array_equal(a, b) for a, b in zip(again, [x for x, _ in AlternatingFlip(data, seed=1)]))


def test_alternating_flip_through_the_background_loader_alternates_epoch_by_epoch(batch):
    """The epoch is counted when the loader starts it (iter), not when its thread asks for the first batch."""
    from cifar_helpers import AlternatingFlip, AsyncDataLoader, DataSet

    images = batch[0]
    ids = np.arange(len(images))
    with AsyncDataLoader(AlternatingFlip(DataSet([images, ids], batch_size=40), seed=2), buffer_size=2) as loader:
        ways = _ways_seen(images, [list(loader) for _ in range(3)])
    assert np.array_equal(ways[1], 1 - ways[0]) and np.array_equal(ways[2], ways[0])


def test_alternating_flip_wants_a_dataset_of_uint8_images(batch):
    from cifar_helpers import AlternatingFlip, DataSet

    with pytest.raises(TypeError, match=r"AlternatingFlip wants a DataSet .* got tuple: wrap the arrays first"):
        AlternatingFlip(batch)
    channels_first = torch.zeros(8, 3, 32, 32)
    with pytest.raises(ValueError, match=r"AlternatingFlip wants uint8 images \(N, H, W, C\)"):
        AlternatingFlip(DataSet([channels_first, np.zeros(8)]))
    with pytest.raises(ValueError, match=r"^seed=.* must be a whole number >= 0"):
        AlternatingFlip(DataSet(list(batch)), seed=-1)


def test_alternating_flip_shares_the_datasets_images_instead_of_copying_them(synthetic_train):
    """Notebook 6 keeps every model it trained, and each model its training state: a copy of the
    training images per run would cost 150 MB each."""
    import tracemalloc

    from cifar_helpers import AlternatingFlip, DataSet

    data = DataSet([synthetic_train.images, synthetic_train.labels], batch_size=32)
    tracemalloc.start()
    try:
        flips = AlternatingFlip(data, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < synthetic_train.images.nbytes / 10
    assert len(flips) == len(data)
