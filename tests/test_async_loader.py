"""AsyncDataLoader: same batches as the dataset, re-iterable, errors with their traceback, and no
background thread left behind however the loop ends."""

import threading
import time
import traceback

import numpy as np
import pytest

from cifar_helpers import AsyncDataLoader, DataSet


def loader_threads():
    return [t for t in threading.enumerate() if t.name == "AsyncDataLoader" and t.is_alive()]


def no_loader_threads(timeout=2.0):
    deadline = time.monotonic() + timeout
    while loader_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not loader_threads()


@pytest.fixture
def dataset():
    return DataSet([np.arange(50), np.arange(50) * 2], batch_size=4)  # 13 batches, the last of 2


def double(batch):
    x, y = batch
    return x * 2, y


def test_same_batches_as_the_dataset_through_on_batch_loaded(dataset):
    with AsyncDataLoader(dataset, buffer_size=3, on_batch_loaded=double) as loader:
        got = list(loader)
    expected = [double(batch) for batch in dataset]
    assert len(got) == len(expected) == 13
    for (x, y), (ex, ey) in zip(got, expected):
        np.testing.assert_array_equal(x, ex)
        np.testing.assert_array_equal(y, ey)


def test_without_on_batch_loaded_batches_pass_unchanged(dataset):
    with AsyncDataLoader(dataset) as loader:
        assert [b[0].tolist() for b in loader] == [b[0].tolist() for b in dataset]


def test_reiterable_for_several_epochs_and_len(dataset):
    shuffled = DataSet(dataset.data, batch_size=4, shuffle=True, seed=0)
    with AsyncDataLoader(shuffled, buffer_size=2) as loader:
        assert len(loader) == 13
        epochs = [[int(i) for x, _ in loader for i in x] for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(50))
    assert epochs[0] != epochs[1]  # each epoch is a new pass over the (reshuffled) dataset
    assert no_loader_threads()


def test_cache_fills_the_buffer_before_iteration(dataset):
    loaded = []

    def record(batch):
        loaded.append(batch)
        return batch

    with AsyncDataLoader(dataset, buffer_size=5, on_batch_loaded=record) as loader:
        assert loader.cache() is loader
        assert len(loaded) >= 5  # ready before the loop asks for anything
        assert len(list(loader)) == 13  # the cached epoch is the one iterated, from its start
        assert len(loaded) == 13


def test_cache_on_a_short_epoch_returns(dataset):
    small = DataSet([np.arange(3)], batch_size=1)
    with AsyncDataLoader(small, buffer_size=10) as loader:
        loader.cache()
        assert len(list(loader)) == 3


def fail_on_third(batch):
    if batch[0][0] >= 8:
        raise ZeroDivisionError("bad batch")
    return batch


def test_error_in_on_batch_loaded_reaches_the_loop_with_its_traceback(dataset):
    loader = AsyncDataLoader(dataset, on_batch_loaded=fail_on_third)
    seen = 0
    with pytest.raises(ZeroDivisionError, match="bad batch") as error:
        for _ in loader:
            seen += 1
    assert seen == 2
    functions = [frame.name for frame in traceback.extract_tb(error.value.__traceback__)]
    assert "fail_on_third" in functions
    assert no_loader_threads()
    assert len(list(AsyncDataLoader(dataset))) == 13  # a new loader works after the error


def test_no_thread_left_after_a_full_epoch(dataset):
    loader = AsyncDataLoader(dataset, buffer_size=2)
    for i, _ in enumerate(loader):
        if i == 0:
            assert loader_threads()  # the loader does run in its own thread
    assert i == 12
    assert no_loader_threads()


def test_no_thread_left_after_break(dataset):
    loader = AsyncDataLoader(dataset, buffer_size=2)
    for _ in loader:
        break
    assert no_loader_threads()
    assert len(list(loader)) == 13  # the loader still works for the next epoch


def test_no_thread_left_after_keyboard_interrupt_in_the_loop(dataset):
    loader = AsyncDataLoader(dataset, buffer_size=2)
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(loader):
            if i == 1:
                raise KeyboardInterrupt
    assert no_loader_threads()


def test_close_stops_the_thread_and_iterating_after_close_raises(dataset):
    loader = AsyncDataLoader(dataset, buffer_size=2)
    batches = iter(loader)
    next(batches)
    loader.close()
    assert no_loader_threads(timeout=0)  # close() waits for the thread
    with pytest.raises(StopIteration):
        next(batches)
    with pytest.raises(RuntimeError, match="closed"):
        iter(loader)


def test_with_block_closes(dataset):
    with AsyncDataLoader(dataset, buffer_size=2) as loader:
        batches = iter(loader)
        next(batches)
        assert loader_threads()
    assert no_loader_threads(timeout=0)
    with pytest.raises(RuntimeError, match="closed"):
        list(loader)


@pytest.mark.parametrize("buffer_size", [0, -1, 1.5, True])
def test_bad_buffer_size(dataset, buffer_size):
    with pytest.raises(ValueError, match="buffer_size"):
        AsyncDataLoader(dataset, buffer_size=buffer_size)


def test_on_batch_loaded_must_be_callable(dataset):
    with pytest.raises(TypeError, match="on_batch_loaded"):
        AsyncDataLoader(dataset, on_batch_loaded="batch_to_tensors")
