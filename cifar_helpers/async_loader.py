"""`AsyncDataLoader`: prepare the next batches in a background thread while the model trains.

One thread per epoch reads batches from a dataset, passes each through ``on_batch_loaded`` (for
example `batch_to_tensors`) and puts it in a bounded buffer; the training loop takes them out.
The thread stops, and is joined, when the epoch ends, when the loop leaves early (``break``, an
exception, KeyboardInterrupt), on ``close()`` and at the end of a ``with`` block. An exception
raised while loading is raised again in the training loop, with its original traceback.
"""

from __future__ import annotations

import queue
import threading
import time
import weakref

_BATCH, _END, _ERROR = "batch", "end", "error"


class AsyncDataLoader:
    """Wrap a dataset (anything iterable once per epoch, with ``len``) with background prefetching.

    buffer_size: how many prepared batches may wait ahead of the model.
    on_batch_loaded: called on each batch in the background thread; its result is what the
        loop receives.
    """

    def __init__(self, dataset, buffer_size=8, on_batch_loaded=None):
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise ValueError(f"buffer_size={buffer_size!r} must be a positive whole number of batches, such as 8.")
        if on_batch_loaded is not None and not callable(on_batch_loaded):
            raise TypeError(f"on_batch_loaded={on_batch_loaded!r} is not callable: pass a function of one "
                            "batch, such as batch_to_tensors, or None.")
        self.dataset = dataset
        self.buffer_size = buffer_size
        self.on_batch_loaded = on_batch_loaded
        self._epochs = weakref.WeakSet()
        self._pending = None
        self._closed = False

    def __len__(self) -> int:
        return len(self.dataset)

    def __iter__(self):
        if self._closed:
            raise RuntimeError("this AsyncDataLoader is closed; make a new one to load again.")
        if self._pending is not None:
            epoch, self._pending = self._pending, None
            return epoch
        self._stop_epochs()  # one epoch at a time: abandon one that is still running
        epoch = _Epoch(self.dataset, self.buffer_size, self.on_batch_loaded)
        self._epochs.add(epoch)
        return epoch

    def cache(self):
        """Start the next epoch now and wait until its buffer is full (or the epoch is all loaded)."""
        if self._pending is None:
            self._pending = iter(self)
        self._pending.wait_until_full()
        return self

    def close(self):
        """Stop every background thread of this loader and wait for it to end."""
        self._closed = True
        self._pending = None
        self._stop_epochs()

    def _stop_epochs(self):
        for epoch in list(self._epochs):
            epoch.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self) -> str:
        return f"AsyncDataLoader({self.dataset!r}, buffer_size={self.buffer_size})"


class _Epoch:
    """The iterator of one epoch, with the thread that fills its buffer."""

    def __init__(self, dataset, buffer_size, on_batch_loaded):
        self._queue = queue.Queue(maxsize=buffer_size)
        self._stop = threading.Event()
        self._finished = False
        # The thread gets the queue and the event, not this object, so that a loop which drops
        # its iterator (``break``) lets it be collected, and __del__ stops the thread.
        self._thread = threading.Thread(
            target=_fill, args=(iter(dataset), on_batch_loaded, self._queue, self._stop),
            name="AsyncDataLoader", daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._finished:
            raise StopIteration
        try:
            kind, value = self._queue.get()
        except BaseException:  # KeyboardInterrupt while waiting: stop the thread first
            self.close()
            raise
        if kind == _BATCH:
            return value
        self.close()
        if kind == _ERROR:
            raise value
        raise StopIteration

    def wait_until_full(self):
        while not self._queue.full() and self._thread.is_alive():
            time.sleep(0.002)

    def close(self):
        """Stop the thread, drop what it had prepared and wait for it to end."""
        self._finished = True
        self._stop.set()
        while self._thread.is_alive():
            _drain(self._queue)
            self._thread.join(timeout=0.05)
        _drain(self._queue)

    def __del__(self):
        if hasattr(self, "_thread"):
            self.close()


def _fill(batches, on_batch_loaded, buffer, stop):
    _yield_cpu_to_training()
    try:
        for batch in batches:
            if stop.is_set():
                return
            if on_batch_loaded is not None:
                batch = on_batch_loaded(batch)
            if not _put(buffer, (_BATCH, batch), stop):
                return
        _put(buffer, (_END, None), stop)
    except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
        _put(buffer, (_ERROR, error), stop)


def _yield_cpu_to_training():
    """Let this thread run only on CPU time the training leaves idle.

    On a 2-core laptop PyTorch's two compute threads keep both cores busy; a loader thread of
    equal priority would pre-empt one of them in the middle of a parallel operation and stall
    both. SCHED_IDLE (Linux) runs it in the gaps instead: between operations, and whenever the
    training waits for a batch. Elsewhere, or where it is not allowed, it lowers the thread's
    nice value, or leaves the priority as it is.
    """
    import os

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


def _put(buffer, item, stop) -> bool:
    while not stop.is_set():
        try:
            buffer.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _drain(buffer):
    try:
        while True:
            buffer.get_nowait()
    except queue.Empty:
        pass
