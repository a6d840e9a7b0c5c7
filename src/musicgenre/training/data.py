"""Mini-batches read from (memmapped) feature arrays by row index.

Inputs are ``{input_name: array (n_rows, *shape)}`` with rows aligned across inputs (the feature store's
layout); labels are ``(n_rows,)`` class indices. A batch is a set of row indices; :func:`load_batch` reads
those rows from every input (sorted, so a memmap is read front to back), normalises them and returns
tensors. :func:`iter_batches` reads the next batch in a background thread while the model trains on the
current one, which hides the disk when the page cache is cold (NumPy's copy and the normalisation release
the GIL). Batch *contents* never depend on timing, so training stays deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from typing import Any

import numpy as np
import torch

from musicgenre.prefetch import prefetch as read_ahead
from musicgenre.training.normalisation import normalisation_arrays


def batch_rows(
    rows: np.ndarray, batch_size: int, rng: np.random.Generator | None = None, *, min_last: int = 2
) -> list[np.ndarray]:
    """Split ``rows`` into batches of ``batch_size`` (shuffled first when ``rng`` is given).

    A last batch smaller than ``min_last`` is merged into the one before, because batch norm cannot
    train on a single item.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    rows = np.asarray(rows, dtype=np.int64)
    if rng is not None:
        rows = rows[rng.permutation(len(rows))]
    batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    if len(batches) > 1 and len(batches[-1]) < min_last:
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    return batches


def n_batches(n_rows: int, batch_size: int, min_last: int = 2) -> int:
    """How many batches :func:`batch_rows` makes of ``n_rows`` rows."""
    n = -(-n_rows // batch_size)
    if n > 1 and n_rows - (n - 1) * batch_size < min_last:
        n -= 1
    return n


def load_batch(
    inputs: Mapping[str, np.ndarray],
    rows: np.ndarray,
    normalisation: Mapping[str, Mapping[str, Any]] | None = None,
    labels: np.ndarray | None = None,
    *,
    sort: bool = True,
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """Read ``rows`` of every input as normalised float32 tensors, plus their labels.

    With ``sort=True`` the rows are read in ascending order (the batch's order then differs from
    ``rows``; training does not care). Use ``sort=False`` when the output must follow ``rows``.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if sort:
        rows = np.sort(rows)
    out: dict[str, torch.Tensor] = {}
    for name, arr in inputs.items():
        a = np.ascontiguousarray(arr[rows], dtype=np.float32)  # a fresh array (fancy indexing copies)
        if normalisation is not None and name in normalisation:
            # apply_normalisation's (a - mean) / std, in place: the same float32 values, no temporaries
            m, s = normalisation_arrays(normalisation[name])
            np.subtract(a, m, out=a)
            np.divide(a, s, out=a)
        out[name] = torch.from_numpy(a)
    y = None if labels is None else torch.from_numpy(np.asarray(labels[rows], dtype=np.int64))
    return out, y


def iter_batches(
    inputs: Mapping[str, np.ndarray],
    batches: Sequence[np.ndarray],
    normalisation: Mapping[str, Mapping[str, Any]] | None = None,
    labels: np.ndarray | None = None,
    *,
    sort: bool = True,
    prefetch: bool = True,
) -> Iterator[tuple[dict[str, torch.Tensor], torch.Tensor | None]]:
    """Yield :func:`load_batch` of each batch, reading the next one ahead in a background thread
    (:func:`musicgenre.prefetch.prefetch`)."""
    loads = (load_batch(inputs, b, normalisation, labels, sort=sort) for b in batches)
    if not prefetch or len(batches) < 2:
        yield from loads
        return
    with closing(read_ahead(loads)) as ahead:
        yield from ahead


def check_inputs(inputs: Mapping[str, np.ndarray], n_rows: int | None = None) -> int:
    """Check that every input has the same number of rows (and ``n_rows`` if given); return it."""
    if not inputs:
        raise ValueError("no inputs given")
    counts = {name: int(arr.shape[0]) for name, arr in inputs.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"inputs have different row counts: {counts}")
    n = next(iter(counts.values()))
    if n_rows is not None and n != n_rows:
        raise ValueError(f"inputs have {n} rows but the labels have {n_rows}")
    return n
