"""``musicgenre.prefetch``: the same items, order and errors as the plain iteration; nothing left running."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest

from musicgenre.prefetch import prefetch


def _threads() -> int:
    return sum(t.name == "musicgenre-prefetch" for t in threading.enumerate())


def test_same_items_in_order() -> None:
    assert list(prefetch(range(100))) == list(range(100))
    assert list(prefetch([], depth=3)) == []
    assert _threads() == 0


def test_work_is_done_ahead_in_another_thread() -> None:
    seen: list[tuple[int, str]] = []

    def source():
        for i in range(3):
            seen.append((i, threading.current_thread().name))
            yield i

    it = prefetch(source())
    assert next(it) == 0
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:  # item 1 is produced before it is asked for
        time.sleep(0.01)
    assert [i for i, _ in seen[:2]] == [0, 1] and {name for _, name in seen} == {"musicgenre-prefetch"}
    assert list(it) == [1, 2]


def test_an_error_of_the_source_reaches_the_consumer_in_its_place() -> None:
    def source():
        yield 1
        yield 2
        raise ValueError("bad block 3")

    got = []
    with pytest.raises(ValueError, match="bad block 3"):
        for x in prefetch(source()):
            got.append(x)
    assert got == [1, 2] and _threads() == 0


def test_closing_early_stops_the_thread_and_closes_the_source() -> None:
    closed = threading.Event()

    def source():
        try:
            yield from range(10_000)
        finally:
            closed.set()

    with closing(prefetch(source(), depth=2)) as it:
        assert next(it) == 0
    assert closed.is_set() and _threads() == 0  # the source's finally ran before close() returned


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        next(prefetch([1], depth=0))
