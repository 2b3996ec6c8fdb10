"""DataSet: batches per epoch, coverage, shuffling, numpy and torch arrays, split, bad arguments."""

import numpy as np
import pytest
import torch

from cifar_helpers import DataSet


def make(n=10, shuffle=False, **kwargs):
    """Images whose first pixel is the sample's index, and labels equal to index * 10 (in order by default)."""
    images = np.zeros((n, 32, 32, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n)
    return DataSet([images, np.arange(n) * 10], shuffle=shuffle, **kwargs)


def test_the_defaults_are_the_seeds():
    """Cogitare's DataSet(data, batch_size=1, shuffle=True, drop_last=False)."""
    images = np.zeros((6, 32, 32, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(6)
    dataset = DataSet([images, np.arange(6) * 10])
    assert (dataset.batch_size, dataset.shuffle, dataset.drop_last, len(dataset)) == (1, True, False, 6)
    np.random.seed(0)
    orders = [epoch_order(DataSet([images, np.arange(6) * 10])) for _ in range(4)]
    assert all(sorted(order) == list(range(6)) for order in orders)
    assert any(order != list(range(6)) for order in orders)


def indices(batch):
    images, labels = batch
    index = np.asarray(images[:, 0, 0, 0]).astype(int)
    np.testing.assert_array_equal(np.asarray(labels), index * 10)  # images and labels stay aligned
    return index.tolist()


def epoch_order(dataset):
    return [i for batch in dataset for i in indices(batch)]


@pytest.mark.parametrize("n, batch_size, drop_last, expected", [
    (10, 4, False, 3), (10, 4, True, 2), (12, 4, False, 3), (12, 4, True, 3), (3, 4, True, 0), (3, 4, False, 1),
])
def test_len_is_batches_per_epoch(n, batch_size, drop_last, expected):
    dataset = make(n, batch_size=batch_size, drop_last=drop_last)
    assert len(dataset) == expected
    assert len(list(dataset)) == expected


def test_batches_cover_every_sample_once():
    dataset = make(10, batch_size=4)
    assert [len(b[0]) for b in dataset] == [4, 4, 2]
    assert epoch_order(dataset) == list(range(10))
    shuffled = make(10, batch_size=4, shuffle=True, seed=0)
    for _ in range(3):
        assert sorted(epoch_order(shuffled)) == list(range(10))


def test_drop_last_leaves_out_the_small_batch():
    order = epoch_order(make(10, batch_size=4, drop_last=True, shuffle=True, seed=0))
    assert len(order) == 8 and len(set(order)) == 8


def test_shuffle_changes_order_each_epoch_and_follows_seed():
    a = make(50, batch_size=8, shuffle=True, seed=3)
    b = make(50, batch_size=8, shuffle=True, seed=3)
    c = make(50, batch_size=8, shuffle=True, seed=4)
    epochs_a = [epoch_order(a) for _ in range(3)]
    assert epochs_a == [epoch_order(b) for _ in range(3)]
    assert epochs_a[0] != epochs_a[1] != epochs_a[2]
    assert epochs_a[0] != list(range(50))
    assert epoch_order(c) != epochs_a[0]


@pytest.mark.parametrize("seed", [3, None])
def test_restarted_shuffles_from_the_start_again_and_shares_the_arrays(seed):
    a = make(50, batch_size=8, shuffle=True, drop_last=True, seed=seed)
    first = [epoch_order(a) for _ in range(2)]
    again = a.restarted()
    assert [epoch_order(again) for _ in range(2)] == first
    assert epoch_order(a) not in first, "the original goes on with its own stream"
    assert again.data[0] is a.data[0] and len(again) == len(a) == 6 and again.drop_last


def test_without_shuffling_every_epoch_is_in_order():
    plain = make(50, batch_size=8, shuffle=False, drop_last=False, seed=3)
    assert epoch_order(plain) == list(range(50))


def test_shuffle_without_seed_follows_numpy_global_seed():
    np.random.seed(7)
    first = epoch_order(make(30, shuffle=True))
    np.random.seed(7)
    assert epoch_order(make(30, shuffle=True)) == first


@pytest.mark.parametrize("shuffle", [False, True])
def test_numpy_and_torch_arrays_give_the_same_batches(shuffle):
    x = np.arange(20 * 3, dtype=np.float32).reshape(20, 3)
    y = np.arange(20)
    from_numpy = DataSet([x, y], batch_size=6, shuffle=shuffle, seed=1)
    from_torch = DataSet([torch.from_numpy(x), torch.from_numpy(y)], batch_size=6, shuffle=shuffle, seed=1)
    for (xn, yn), (xt, yt) in zip(from_numpy, from_torch, strict=True):
        assert isinstance(xt, torch.Tensor) and isinstance(xn, np.ndarray)
        np.testing.assert_array_equal(xt.numpy(), xn)
        np.testing.assert_array_equal(yt.numpy(), yn)


def test_lists_are_turned_into_arrays():
    batches = list(DataSet([[1, 2, 3], [4, 5, 6]], batch_size=2, shuffle=False))
    assert isinstance(batches[0][0], np.ndarray)
    np.testing.assert_array_equal(batches[1][1], [6])


@pytest.mark.parametrize("as_torch", [False, True])
def test_split_gives_ratio_then_the_rest_disjoint_and_deterministic(as_torch):
    """As Cogitare's: train, validation = data.split(0.8) keeps 80% in the first part."""
    images = np.arange(100)
    data = [torch.from_numpy(images), torch.from_numpy(images * 10)] if as_torch else [images, images * 10]
    dataset = DataSet(data, batch_size=16, shuffle=True, drop_last=True, seed=0)
    first, second = dataset.split(0.8, seed=5)
    assert (first.num_samples, second.num_samples) == (80, 20)
    first_ids = np.asarray(first.data[0]).tolist()
    second_ids = np.asarray(second.data[0]).tolist()
    assert sorted(first_ids + second_ids) == list(range(100))
    np.testing.assert_array_equal(np.asarray(second.data[1]), np.asarray(second.data[0]) * 10)
    assert (first.batch_size, first.shuffle, first.drop_last) == (16, True, True)
    assert (second.batch_size, second.shuffle, second.drop_last) == (16, False, False)
    assert np.asarray(dataset.split(0.8, seed=5)[1].data[0]).tolist() == second_ids
    assert np.asarray(dataset.split(0.8, seed=6)[1].data[0]).tolist() != second_ids


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "sixty-four"])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        make(batch_size=batch_size)


def test_bad_data():
    with pytest.raises(ValueError, match="different lengths"):
        DataSet([np.zeros(5), np.zeros(4)])
    with pytest.raises(TypeError, match="list of aligned arrays"):
        DataSet(np.zeros(5))
    with pytest.raises(TypeError, match="list of aligned arrays"):
        DataSet([])


@pytest.mark.parametrize("ratio", [0, 1, -0.1, 1.5, "most", float("nan")])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match=r"ratio=.* must be a number between 0 and 1 \(0 excluded, 1 excluded\)"):
        make(10).split(ratio)


def test_fraction_that_leaves_a_side_empty():
    with pytest.raises(ValueError, match="empty"):
        make(10).split(0.99)


@pytest.mark.parametrize("seed", [-1, 2.5, "zero", True])
def test_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match=r"^seed=.* must be a whole number >= 0, such as 0\."):
        make(10, batch_size=4, seed=seed)
    with pytest.raises(ValueError, match=r"^seed=.* must be a whole number >= 0"):
        make(10, batch_size=4).split(0.5, seed=seed)


def test_no_seed_means_a_fresh_draw():
    first, second = make(10, batch_size=4).split(0.5, seed=None)
    assert sorted(np.concatenate([first.data[0][:, 0, 0, 0], second.data[0][:, 0, 0, 0]]).tolist()) == list(range(10))
