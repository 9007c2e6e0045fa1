"""Run per-video producers on background threads, ahead of the consumer, in input order.

The backbone consumes batches on the main thread while ``workers`` threads decode (and
preprocess) the next ones. PyAV decodes and swscale converts without holding the GIL,
and so do torch's resize/normalise kernels, so the threads really run in parallel.

Memory stays bounded: each video's queue holds at most ``depth`` items, and a worker
takes the next video only when it has handed over the whole of its current one, so at
most ``workers`` videos are in flight.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Prefetcher:
    """Iterate over ``(job, items)`` in job order, with every job's items produced on worker threads.

    Args:
        jobs: the jobs (e.g. video paths), consumed in this order.
        produce: ``produce(job)`` yields the job's items; an exception it raises is re-raised
            in the consumer when it reaches that point of the job's items.
        workers: producer threads (>= 1).
        depth: items buffered per job.

    Each ``items`` iterator must be exhausted (or the prefetcher closed) before the next job's.
    Use as a context manager so that the threads stop if the consumer stops early.
    """

    def __init__(self, jobs: Iterable[T], produce: Callable[[T], Iterable[Any]], *, workers: int = 1,
                 depth: int = 2):
        self._jobs = list(jobs)
        self._produce = produce
        self._queues: dict[int, queue.Queue] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self._stop = threading.Event()
        self._depth = max(1, depth)
        self._threads = [
            threading.Thread(target=self._work, name=f"vadpipe-prefetch-{i}", daemon=True)
            for i in range(max(1, min(workers, len(self._jobs))))
        ]
        for thread in self._threads:
            thread.start()

    def _queue(self, index: int) -> queue.Queue:
        with self._lock:
            return self._queues.setdefault(index, queue.Queue(maxsize=self._depth))

    def _put(self, q: queue.Queue, item) -> bool:
        while not self._stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        while not self._stop.is_set():
            index = next(self._counter)
            if index >= len(self._jobs):
                return
            q = self._queue(index)
            try:
                for item in self._produce(self._jobs[index]):
                    if not self._put(q, item):
                        return
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which decides
                self._put(q, _Failure(exc))
                continue
            self._put(q, _END)

    def _items(self, index: int) -> Iterator[Any]:
        q = self._queue(index)
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            with self._lock:
                self._queues.pop(index, None)

    def __iter__(self) -> Iterator[tuple[T, Iterator[Any]]]:
        for index, job in enumerate(self._jobs):
            items = self._items(index)
            yield job, items
            for _ in items:  # drain what the consumer left, so the worker can move on
                pass

    def close(self) -> None:
        """Stop the workers (they finish the item in hand) and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
