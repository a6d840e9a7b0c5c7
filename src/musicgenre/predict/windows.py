"""Sliding windows over a stream of sample blocks, in batches, with bounded memory.

Windows have the model's segment length ``window`` and start every ``hop`` samples (``hop == window``:
back-to-back windows, as in training). How the ends are handled:

- a signal shorter than one window gives one window, zero-padded at the end (as training pads short clips);
- when the regular windows leave a tail uncovered, one more window is aligned with the end of the signal,
  so every sample is seen and no window of a long signal is padded.

Only the samples that a future window can still need are kept between blocks (at most one window plus one
block), so memory does not grow with the length of the signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowBatch:
    """Consecutive windows: ``samples`` ``(n, window)`` float32, ``starts`` ``(n,)`` first sample of each
    window in the signal, ``real`` ``(n,)`` count of real (not padding) samples in each window."""

    samples: np.ndarray
    starts: np.ndarray
    real: np.ndarray

    def __len__(self) -> int:
        return int(self.samples.shape[0])


@dataclass
class SignalStats:
    """Running facts about the whole signal, filled in while windows are cut."""

    n_samples: int = 0
    sum_squares: float = 0.0
    peak: float = 0.0

    def update(self, block: np.ndarray) -> None:
        self.n_samples += int(block.shape[0])
        if block.size:
            self.sum_squares += float(np.einsum("i,i->", block, block, dtype=np.float64))
            self.peak = max(self.peak, float(np.max(np.abs(block))))

    @property
    def rms(self) -> float:
        """Root mean square of every sample seen (0 for no samples)."""
        return float(np.sqrt(self.sum_squares / self.n_samples)) if self.n_samples else 0.0


def sliding_windows(
    blocks: Iterable[np.ndarray],
    window: int,
    hop: int,
    *,
    batch_size: int = 32,
    stats: SignalStats | None = None,
) -> Iterator[WindowBatch]:
    """Cut the concatenation of ``blocks`` (1-D float32) into windows, yielded ``batch_size`` at a time.

    ``stats``, when given, is updated with every block (length, energy, peak). Yields nothing for an
    empty signal. Peak memory: one block, one window of carry-over and about two batches.
    """
    if window <= 0 or hop <= 0:
        raise ValueError(f"window and hop must be positive, got window={window}, hop={hop}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    buf = np.zeros(0, dtype=np.float32)
    buf_start = 0  # signal index of buf[0]
    next_start = 0  # start of the next regular window
    last_start: int | None = None  # start of the last window taken
    pending: list[WindowBatch] = []  # fewer than batch_size windows in all, between blocks
    n_pending = 0

    def take(samples: np.ndarray, starts: np.ndarray, real: np.ndarray) -> Iterator[WindowBatch]:
        nonlocal pending, n_pending
        pending.append(WindowBatch(samples, starts, real))
        n_pending += len(starts)
        if n_pending >= batch_size:
            yield _join(pending)
            pending, n_pending = [], 0

    for block in blocks:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        if stats is not None:
            stats.update(block)
        if block.size == 0:
            continue
        buf = np.concatenate([buf, block]) if buf.size else block
        buf_end = buf_start + buf.shape[0]
        if next_start + window <= buf_end:
            views = np.lib.stride_tricks.sliding_window_view(buf, window)
            while next_start + window <= buf_end:
                room = batch_size - n_pending
                n_avail = (buf_end - window - next_start) // hop + 1
                k = min(room, n_avail)
                starts = next_start + hop * np.arange(k, dtype=np.int64)
                samples = views[starts - buf_start]  # fancy indexing: a (k, window) copy
                last_start = int(starts[-1])
                next_start = last_start + hop
                yield from take(samples, starts, np.full(k, window, dtype=np.int64))
            del views
        # Keep what a later regular window or the final end-aligned window can still need.
        keep_from = min(next_start, max(buf_start, buf_end - window))
        if keep_from > buf_start:
            buf = buf[keep_from - buf_start :].copy()
            buf_start = keep_from

    total = buf_start + buf.shape[0]
    if total > 0:
        if last_start is None and total < window:
            padded = np.zeros((1, window), dtype=np.float32)
            padded[0, :total] = buf[buf.shape[0] - total :]
            pending.append(WindowBatch(padded, np.zeros(1, np.int64), np.array([total], np.int64)))
        elif last_start is None or last_start + window < total:
            start = total - window
            i = start - buf_start
            pending.append(
                WindowBatch(
                    buf[None, i : i + window].copy(),
                    np.array([start], np.int64),
                    np.array([window], np.int64),
                )
            )
    if pending:
        yield _join(pending)


def _join(parts: list[WindowBatch]) -> WindowBatch:
    if len(parts) == 1:
        return parts[0]
    return WindowBatch(
        samples=np.concatenate([p.samples for p in parts]),
        starts=np.concatenate([p.starts for p in parts]),
        real=np.concatenate([p.real for p in parts]),
    )
