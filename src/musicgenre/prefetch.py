"""Compute the next items of an iterator in a background thread while the caller works on the current one.

    with closing(prefetch(stream.blocks())) as blocks:
        for block in blocks:
            ...   # the next block is decoded meanwhile

Used by :meth:`GenreClassifier.predict <musicgenre.predict.classifier.GenreClassifier.predict>`: decoding,
the mono mix and resampling (C code that releases the GIL) run on one core while the model runs on the other.
The items, their order and the exceptions are those of the plain iteration: an exception raised by the source
is raised again by the consumer at the same place in the sequence. Closing the generator (``closing`` above,
or leaving a ``for`` loop early and dropping it) stops the thread and waits for it, and the source iterator is
closed in that thread, so nothing runs in the background once ``close()`` has returned.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_ITEM, _DONE, _ERROR = range(3)


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield the items of ``items``, each produced in a background thread up to ``depth`` items ahead."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    source = iter(items)
    slots: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: tuple[int, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in source:
                if not put((_ITEM, item)):
                    break
            else:
                put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((_ERROR, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="musicgenre-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == _DONE:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        stop.set()
        thread.join()
