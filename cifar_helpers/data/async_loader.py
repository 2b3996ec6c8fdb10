"""`AsyncDataLoader`: prepare the next batches in a background thread while the model trains.

Each pass over the data (an *epoch*) has a thread that reads batches from the dataset, passes
each through ``on_batch_loaded`` (for example `batch_to_tensors`) and puts it in a bounded
queue; the training loop takes them out. An error raised while loading is raised again in the
loop, with its original traceback. The thread stops, and is joined, when the epoch ends, when the
loop leaves early (``break``, an exception, Ctrl-C), on ``close()`` and at the end of a ``with``
block.

Why not PyTorch's ``DataLoader(batch_size=None)`` over the same batches? With ``num_workers=0``
it prepares each batch in the loop, while the model waits; with ``num_workers=1`` it prepares
them in another *process*, and each batch is pickled across. A thread shares the arrays without
copying, and runs at idle priority, only in the CPU time the training leaves free. It gains
most where the training waits, as for a GPU; on a 2-core CPU that PyTorch's two threads keep
busy there is little to fill, and it runs level with ``num_workers=0``.
benchmarks/bench_training.py times all three (ratios a/d0 and a/d1; benchmarks/RESULTS.md has
its runs). The class keeps the seed tutorial's API: ``buffer_size``, ``on_batch_loaded``,
``cache()`` and ``next(loader)``.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from ..core.validation import whole_number

if TYPE_CHECKING:
    from ..core.batch import Batch  # for type hints only: the loader imports neither numpy nor torch

_BATCH, _END, _ERROR = "batch", "end", "error"


class AsyncDataLoader:
    """Wrap a dataset (anything iterable once per epoch, with ``len``) with background prefetching.

    buffer_size: how many prepared batches may wait ahead of the model.
    on_batch_loaded: called on each batch in the background thread; its result is what the
        loop receives.

    ``for batch in loader`` runs one epoch; iterating again (also while another epoch of the
    same loader is running, for example in a plugin) runs another, independent one.
    ``next(loader)`` takes one batch from the next epoch, which the next loop then continues,
    as in the seed tutorial; ``cache()`` starts that epoch and waits until its buffer is full.

    The thread works ahead of the loop: a loop that leaves an epoch early leaves a seeded
    ``on_batch_loaded`` (a `RandomFlip`) as far on as the thread got, which depends on timing.
    Give such a loop a loader and an augmentation of its own, so that later epochs repeat.
    """

    def __init__(self, dataset: Iterable[Batch], buffer_size: int = 8,
                 on_batch_loaded: Callable[[Batch], Batch] | None = None) -> None:
        if on_batch_loaded is not None and not callable(on_batch_loaded):
            raise TypeError(f"on_batch_loaded={on_batch_loaded!r} is not callable: pass a function of one "
                            "batch, such as batch_to_tensors, or None.")
        self.dataset = dataset
        self.buffer_size = whole_number(buffer_size, "buffer_size", 8)
        self.on_batch_loaded = on_batch_loaded
        self._epochs = weakref.WeakSet()
        self._next = None  # an epoch started by next() or cache() that no loop has taken yet
        self._closed = False

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self) -> Iterator[Batch]:
        epoch, self._next = self._next, None
        return epoch if epoch is not None else self._start_epoch()

    def __next__(self) -> Batch:
        if self._next is None:
            self._next = self._start_epoch()
        try:
            return next(self._next)
        except BaseException:  # the epoch ended, or failed and was stopped: the next loop starts a fresh one
            self._next = None
            raise

    def cache(self) -> AsyncDataLoader:
        """Start the next epoch now and wait until its buffer is full (or the epoch is all loaded)."""
        if self._next is None:
            self._next = self._start_epoch()
        self._next.wait_until_full()
        return self

    def close(self) -> None:
        """Stop every background thread of this loader and wait for it to end."""
        self._closed = True
        self._next = None
        for epoch in list(self._epochs):
            epoch.close()

    def _start_epoch(self) -> _Epoch:
        if self._closed:
            raise RuntimeError("this AsyncDataLoader is closed; make a new one to load again.")
        epoch = _Epoch(self.dataset, self.buffer_size, self.on_batch_loaded)
        self._epochs.add(epoch)
        return epoch

    def __enter__(self) -> AsyncDataLoader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AsyncDataLoader({self.dataset!r}, buffer_size={self.buffer_size})"


class _Epoch:
    """The iterator of one epoch, with the thread that fills its queue."""

    def __init__(self, dataset: Iterable[Batch], buffer_size: int,
                 on_batch_loaded: Callable[[Batch], Batch] | None) -> None:
        self._queue = queue.Queue(maxsize=buffer_size)
        self._stop = threading.Event()
        self._full = threading.Event()  # the buffer filled up once, or the epoch is all loaded
        self._finished = False
        self._closed_early = False  # close() came before the epoch's end
        # The thread gets the queue and the events, not this object, so that a loop which drops
        # its iterator (``break``) lets it be collected; the finalizer then stops the thread.
        thread = threading.Thread(target=_fill, name="AsyncDataLoader", daemon=True,
                                  args=(iter(dataset), on_batch_loaded, self._queue, self._stop, self._full))
        thread.start()
        self._stop_thread = weakref.finalize(self, _stop, thread, self._queue, self._stop)
        self._stop_thread.atexit = False

    def __iter__(self) -> _Epoch:
        return self

    def __next__(self) -> Batch:
        if not self._finished:
            try:
                kind, value = self._queue.get()
            except BaseException:  # Ctrl-C while waiting: stop the thread first
                self.close()
                raise
        if self._closed_early:  # also wakes a loop that waited in get() while another thread closed the loader
            raise RuntimeError("this AsyncDataLoader was closed before the epoch's end; the epoch is cut "
                               "short: close a loader once no loop is taking its batches.")
        if self._finished:
            raise StopIteration
        if kind == _BATCH:
            return value
        self._finished = True
        self._stop_thread()
        if kind == _END:
            raise StopIteration
        if isinstance(value, StopIteration):  # raised here it would end the epoch without a word
            raise RuntimeError("on_batch_loaded raised StopIteration; raise another exception to report a "
                               "problem with a batch.") from value
        raise value

    def wait_until_full(self) -> None:
        self._full.wait()

    def close(self) -> None:
        """Stop the thread, drop what it had prepared and wait for it to end."""
        if not self._finished:
            self._finished = self._closed_early = True
        self._stop_thread()


def _fill(batches: Iterator[Batch], on_batch_loaded: Callable[[Batch], Batch] | None, buffer: queue.Queue,
          stop: threading.Event, full: threading.Event) -> None:
    def put(item: tuple[str, object]) -> bool:  # every put looks at ``stop`` first: see _stop
        if stop.is_set():
            return False
        buffer.put(item)
        return True

    _yield_cpu_to_training()
    try:
        # No look at ``stop`` before on_batch_loaded: when a blocked put is released by close(), one
        # more batch is prepared and dropped.
        for batch in batches:
            if not put((_BATCH, batch if on_batch_loaded is None else on_batch_loaded(batch))):
                return
            if buffer.full():
                full.set()
        put((_END, None))
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
        put((_ERROR, error))
    finally:
        full.set()


def _stop(thread: threading.Thread, buffer: queue.Queue, stop: threading.Event) -> None:
    """Tell the thread to stop, then empty the queue. The thread looks at ``stop`` before every
    put, so at most one put (one it had already begun) can follow the emptying, and there is
    room for it: the thread cannot block again, and ends."""
    stop.set()
    _drain(buffer)
    if thread is not threading.current_thread():
        thread.join()
    _drain(buffer)
    try:  # wake a loop that waits for a batch in another thread; it sees the epoch closed
        buffer.put_nowait((_END, None))
    except queue.Full:  # the thread's last put is there: that wakes it just as well
        pass


def _drain(buffer: queue.Queue) -> None:
    try:
        while True:
            buffer.get_nowait()
    except queue.Empty:
        pass


def _yield_cpu_to_training() -> None:
    """Let this thread run only on CPU time the training leaves idle.

    On a 2-core CPU PyTorch's two compute threads keep both cores busy; a loader thread of
    equal priority would pre-empt one of them in the middle of a parallel operation and stall
    both. SCHED_IDLE (Linux) runs it in the gaps instead: between operations, and whenever the
    training waits for a batch. Elsewhere it lowers the thread's nice value, where allowed.
    """
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, 19)
    except (AttributeError, OSError):
        pass
