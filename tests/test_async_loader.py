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


def wait_for(condition, timeout=5.0):
    """Poll until condition() holds (True) or the timeout passes (False): no guessed sleeps."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def no_loader_threads(timeout=2.0):
    deadline = time.monotonic() + timeout
    while loader_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    return not loader_threads()


@pytest.fixture
def dataset():
    return DataSet([np.arange(50), np.arange(50) * 2], batch_size=4, shuffle=False)  # 13 batches, the last of 2


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
    small = DataSet([np.arange(3)], batch_size=1, shuffle=False)
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
    with pytest.raises(RuntimeError, match="closed before the epoch's end"):
        next(batches)  # a cut epoch says so: it does not end as if it were whole
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


def test_a_second_iteration_while_one_runs_is_independent(dataset):
    """Iterating the loader inside a running epoch (an Evaluator over the training loader, say) used
    to end the first epoch silently; each iteration is now its own epoch."""
    with AsyncDataLoader(dataset, buffer_size=2) as loader:
        outer, inner_lengths = [], []
        for x, _ in loader:
            outer.extend(int(i) for i in x)
            inner_lengths.append(len(list(loader)))
    assert outer == list(range(50))
    assert inner_lengths == [13] * 13
    assert no_loader_threads()


def test_training_with_an_evaluator_over_the_training_loader(tiny_model, synthetic_tensors):
    import torch

    from cifar_helpers import Evaluator
    from cifar_helpers.training.metrics import classification_accuracy

    x, y = synthetic_tensors
    loader = AsyncDataLoader(DataSet([x[:160], y[:160]], batch_size=16, shuffle=False))
    seen = []
    tiny_model.register_plugin(lambda batch_index, **_: seen.append(batch_index), "on_end_batch")
    evaluator = Evaluator(loader, {"accuracy": classification_accuracy}, prefix="train")
    tiny_model.register_plugin(lambda model, record, **_: evaluator.on_end_epoch(model, record), "on_end_batch")
    tiny_model.learn(loader, torch.optim.SGD(tiny_model.parameters(), lr=0.1), max_epochs=1)
    assert seen == list(range(1, 11))  # all 10 batches trained, not cut short


def stop_iteration_on_third(batch):
    if batch[0][0] >= 8:
        raise StopIteration
    return batch


def test_stop_iteration_from_on_batch_loaded_is_an_error_not_the_end_of_the_epoch(dataset):
    with pytest.raises(RuntimeError, match="on_batch_loaded raised StopIteration"):
        list(AsyncDataLoader(dataset, on_batch_loaded=stop_iteration_on_third))
    assert no_loader_threads()


def test_next_takes_batches_that_the_next_loop_continues_from(dataset):
    """The seed tutorial calls next(loader) before training; the first epoch then goes on from there."""
    with AsyncDataLoader(dataset, buffer_size=3) as loader:
        first = next(loader)
        second = next(loader)
        rest = list(loader)
        assert [b[0].tolist() for b in (first, second)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
        assert len(rest) == 11 and rest[0][0].tolist() == [8, 9, 10, 11]
        assert len(list(loader)) == 13  # the next epoch is whole
        assert len([next(loader) for _ in range(13)]) == 13
        with pytest.raises(StopIteration):
            next(loader)  # the end of that epoch
        assert next(loader)[0].tolist() == [0, 1, 2, 3]  # and then a new one


@pytest.mark.parametrize("buffer_size", [1, 2])
def test_closing_a_full_small_buffer_never_hangs(buffer_size):
    small = DataSet([np.arange(6)], batch_size=1, shuffle=False)
    prepared = []
    loader = AsyncDataLoader(small, buffer_size=buffer_size, on_batch_loaded=lambda b: prepared.append(1) or b)
    batches = iter(loader)
    next(batches)
    # 1 taken, the buffer full, and one more prepared that waits for room: the thread is blocked on it
    assert wait_for(lambda: len(prepared) == buffer_size + 2)
    closer = threading.Thread(target=loader.close)
    closer.start()
    closer.join(timeout=5)
    assert not closer.is_alive() and no_loader_threads(timeout=0)


def test_an_abandoned_epoch_stops_its_thread(dataset):
    loader = AsyncDataLoader(dataset, buffer_size=2)
    next(iter(loader))  # the epoch's iterator is dropped at once
    assert no_loader_threads()


def test_an_interrupted_learn_stops_its_loader_thread(tiny_model, make_dataset):
    """Jupyter keeps the last exception, and with it the loop's frames: learn must close the loader itself."""
    import torch

    loader = AsyncDataLoader(make_dataset(64, 16), buffer_size=2)

    def interrupt(batch_index, **_):
        if batch_index == 2:
            raise KeyboardInterrupt
    tiny_model.register_plugin(interrupt, "on_end_batch")
    with pytest.raises(KeyboardInterrupt) as kept:
        tiny_model.learn(loader, torch.optim.SGD(tiny_model.parameters(), lr=0.01), max_epochs=1)
    assert kept.traceback and no_loader_threads()


def test_an_epoch_left_early_prepares_the_same_number_of_batches_every_time(dataset):
    """1 taken + 2 buffered + 1 waiting for room, and the one prepared as close() releases it: a seeded
    augmenter's stream moves by that much, and the committed lesson's seeded results rely on it."""
    counts = []
    for _ in range(3):
        prepared = []
        loader = AsyncDataLoader(dataset, buffer_size=2,
                                 on_batch_loaded=lambda batch, prepared=prepared: prepared.append(1) or batch)
        batches = iter(loader)
        next(batches)
        assert wait_for(lambda prepared=prepared: len(prepared) == 4)  # the thread has prepared one more batch...
        time.sleep(0.05)  # ...and goes on to wait for room (a put it has begun; close() then releases it)
        loader.close()
        counts.append(len(prepared))
    assert counts == [5, 5, 5] and no_loader_threads()


def test_after_next_raised_an_error_the_next_loop_is_a_whole_new_epoch(dataset):
    """The failed epoch is gone: the loop after it neither comes up empty nor repeats the error."""
    failing = [True]

    def fail_once(batch):
        if failing and failing.pop():
            raise ValueError("bad first batch")
        return batch

    loader = AsyncDataLoader(dataset, buffer_size=2, on_batch_loaded=fail_once)
    with pytest.raises(ValueError, match="bad first batch"):
        next(loader)
    assert [b[0][0] for b in loader] == list(range(0, 50, 4))
    assert no_loader_threads()


def test_closing_from_another_thread_wakes_a_waiting_loop_with_an_error():
    """A loop waiting for a batch that will never come (a watchdog closed the loader) raises; it does not hang."""
    def slow(batch):
        time.sleep(0.3)
        return batch

    loader = AsyncDataLoader(range(100), buffer_size=2, on_batch_loaded=slow)
    got, errors = [], []

    def consume():
        try:
            for batch in loader:
                got.append(batch)
        except RuntimeError as error:
            errors.append(str(error))

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    assert wait_for(lambda: got == [0])  # the consumer has the first batch and waits for the second
    loader.close()
    consumer.join(timeout=3)
    assert not consumer.is_alive() and got == [0]
    assert errors and "closed before the epoch's end" in errors[0]
    assert no_loader_threads()
