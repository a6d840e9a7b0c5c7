"""Input normalisation: per-channel (or global) mean and std from the training rows only.

Statistics of one input are ``{"mean": Tensor, "std": Tensor}`` (float32). Their shape has the item's rank
with size 1 on every axis except the channel axis (``FeatureConfig.channel_axis``): ``(1, 20)`` for MFCCs
``(94, 20)`` normalised per coefficient, ``(1,)`` for the waveform's single global mean/std. That shape
broadcasts against one item ``(*shape)`` and a batch ``(B, *shape)`` alike, so :func:`apply_normalisation`
needs nothing but the two tensors. (Stats of shape ``(C,)`` for ``channel_axis=-1`` also work.)

The statistics are computed in one streaming pass over the selected rows, a chunk of rows at a time (16 MB
of float32 per chunk), with float64 accumulators merged by Chan et al.'s parallel-variance update: a
10,000 x 48,000 waveform memmap is never loaded whole, nor converted to float64 whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from musicgenre.features.registry import FeatureConfig

#: Standard deviations below this are replaced by 1 (a constant channel is centred, not blown up).
MIN_STD = 1e-8

Stats = dict[str, torch.Tensor]


def _item_axis(channel_axis: int | None, item_ndim: int) -> int | None:
    if channel_axis is None:
        return None
    if not -item_ndim <= channel_axis < item_ndim:
        raise ValueError(f"channel_axis {channel_axis} is out of range for items of rank {item_ndim}")
    return channel_axis % item_ndim


def compute_normalisation(
    x: np.ndarray,
    channel_axis: int | None,
    rows: np.ndarray | None = None,
    *,
    chunk_bytes: int = 16 << 20,
) -> Stats:
    """Mean and std of ``x`` (``(n_rows, *shape)``, e.g. a memmap) over ``rows`` (all rows when None).

    Per channel along ``channel_axis`` of one item, or one scalar when it is None. Returns float32 tensors
    shaped for broadcasting (module docstring). Raises ``ValueError`` for no rows or non-finite values.
    """
    item_shape = tuple(x.shape[1:])
    axis = _item_axis(channel_axis, len(item_shape))
    n_channels = 1 if axis is None else item_shape[axis]
    if rows is not None:
        rows = np.sort(np.asarray(rows, dtype=np.int64))
    total = x.shape[0] if rows is None else len(rows)
    if total == 0:
        raise ValueError("cannot compute normalisation statistics from zero rows")
    item_bytes = max(1, int(np.prod(item_shape, dtype=np.int64)) * 4)
    step = max(1, chunk_bytes // item_bytes)
    count = 0
    mean = np.zeros(n_channels)
    m2 = np.zeros(n_channels)
    for start in range(0, total, step):
        chunk = x[start : start + step] if rows is None else x[rows[start : start + step]]
        a = np.asarray(chunk, dtype=np.float64)
        a = a.reshape(-1, 1) if axis is None else np.moveaxis(a, axis + 1, -1).reshape(-1, n_channels)
        if not np.all(np.isfinite(a)):
            raise ValueError("non-finite values (NaN or inf) in the features; rebuild the feature cache")
        n_b = a.shape[0]
        mean_b = a.mean(axis=0)
        m2_b = ((a - mean_b) ** 2).sum(axis=0)
        delta = mean_b - mean
        new = count + n_b
        mean = mean + delta * (n_b / new)
        m2 = m2 + m2_b + delta**2 * (count * n_b / new)
        count = new
    std = np.sqrt(m2 / count)
    std = np.where(std < MIN_STD, 1.0, std)
    shape = [1] * len(item_shape) if item_shape else [1]
    if axis is not None:
        shape[axis] = n_channels
    return {
        "mean": torch.from_numpy(mean.reshape(shape).astype(np.float32)),
        "std": torch.from_numpy(std.reshape(shape).astype(np.float32)),
    }


def compute_all_normalisation(
    inputs: Mapping[str, np.ndarray], feature_configs: Mapping[str, FeatureConfig], rows: np.ndarray
) -> dict[str, Stats]:
    """:func:`compute_normalisation` of every input over ``rows`` (the training rows), keyed by input name."""
    return {
        name: compute_normalisation(inputs[name], feature_configs[name].channel_axis, rows) for name in inputs
    }


def apply_normalisation(x: Any, stats: Mapping[str, Any]) -> Any:
    """``(x - mean) / std`` for one input; ``x`` is one item or a batch, a NumPy array or a tensor.

    NumPy input gives a float32 array, tensor input a tensor of its own dtype.
    """
    mean, std = stats["mean"], stats["std"]
    if isinstance(x, torch.Tensor):
        m = torch.as_tensor(mean, dtype=x.dtype, device=x.device)
        s = torch.as_tensor(std, dtype=x.dtype, device=x.device)
        return (x - m) / s
    m, s = normalisation_arrays(stats)
    return (np.asarray(x, dtype=np.float32) - m) / s


def normalisation_arrays(stats: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` of one input's statistics as float32 NumPy arrays (tensors are not copied)."""
    mean, std = stats["mean"], stats["std"]
    m = np.asarray(mean.numpy() if isinstance(mean, torch.Tensor) else mean, dtype=np.float32)
    s = np.asarray(std.numpy() if isinstance(std, torch.Tensor) else std, dtype=np.float32)
    return m, s


def normalise(input_name: str, x: Any, normalisation: Mapping[str, Mapping[str, Any]]) -> Any:
    """Normalise input ``input_name`` with a checkpoint's ``normalisation`` dict (no entry: unchanged)."""
    stats = normalisation.get(input_name)
    if stats is None:
        return x
    return apply_normalisation(x, stats)
