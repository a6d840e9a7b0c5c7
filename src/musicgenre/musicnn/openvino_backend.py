"""musicnn's network run by OpenVINO, in float32: the ``backend="openvino"`` of :meth:`Musicnn.infer`.

The graph is built with OpenVINO's opset from :class:`~musicgenre.musicnn.model.MusicnnNetwork`'s buffers
(no tracing: converting the torch module takes about 3 s, building this graph well under a second), and
computes what :meth:`MusicnnNetwork.forward` computes, in the same order: input batch norm, the five front-end
convolutions with their max over frequency (the minimum where the batch norm's scale is negative), the three
mid-end 1-D convolutions with their residuals, max and mean over time, the dense back-end.

Float32 only: it agrees with the torch network to about 1e-6 (tests/test_musicnn_backends.py) and is about
1.4x faster on the CPU (BENCHMARKS.md). bfloat16 was measured only 12% faster still, and changes the tags by
up to 0.01, so it is not offered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from musicgenre.musicnn.frontend import N_MELS
from musicgenre.openvino_runtime import CompiledGraph

OUTPUTS = ("taggram", "max_pool", "mean_pool", "penultimate")


def build_graph(net: Any) -> Any:
    """An ``openvino.Model``: log-mel ``(n, frames, 96)`` -> ``taggram``, ``max_pool``, ``mean_pool``, ``penultimate``."""
    import openvino as ov
    import openvino.opset13 as ops

    def const(t: torch.Tensor | np.ndarray, shape: tuple[int, ...] | None = None) -> Any:
        arr = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        return ops.constant(arr if shape is None else arr.reshape(shape))

    def ints(*values: int) -> Any:
        return ops.constant(np.array(values, np.int64))

    def bn(x: Any, norm: Any, rank: int) -> Any:  # per-channel affine on axis 1 of a rank-`rank` tensor
        shape = (1, -1) + (1,) * (rank - 2)
        return ops.add(ops.multiply(x, const(norm.scale, shape)), const(norm.shift, shape))

    def pad_time(x: Any, before: int, after: int, rank: int) -> Any:  # axis 2
        begin, end = [0] * rank, [0] * rank
        begin[2], end[2] = before, after
        return ops.pad(x, ints(*begin), ints(*end), "constant")

    def freq_max(y: Any, norm: Any) -> Any:  # bn(relu(max over frequency)), as MusicnnNetwork._freq_max
        top = ops.reduce_max(y, ints(3), keep_dims=False)
        negative = norm.scale.detach().cpu().numpy() < 0
        if negative.any():
            low = ops.reduce_min(y, ints(3), keep_dims=False)
            top = ops.select(ops.constant(negative.reshape(1, -1, 1)), low, top)
        return bn(ops.relu(top), norm, 3)

    def conv(x: Any, kernel: torch.Tensor, bias: torch.Tensor, rank: int) -> Any:
        zeros = [0] * (rank - 2)
        y = ops.convolution(x, const(kernel), [1] * (rank - 2), zeros, zeros, [1] * (rank - 2))
        return ops.add(y, const(bias, (1, -1) + (1,) * (rank - 2)))

    log_mel = ops.parameter(ov.PartialShape([-1, -1, N_MELS]), ov.Type.f32, name="log_mel")
    x = bn(ops.unsqueeze(log_mel, ints(1)), net.bn_in, 4)  # (n, 1, t, 96)
    norms = net.bns
    padded = pad_time(x, 3, 3, 4)
    front = [
        freq_max(conv(padded, net.k0, net.b0, 4), norms[0]),
        freq_max(conv(padded, net.k1, net.b1, 4), norms[1]),
    ]
    for i, length in ((2, 128), (3, 64), (4, 32)):
        same = pad_time(x, (length - 1) // 2, length // 2, 4)
        front.append(freq_max(conv(same, getattr(net, f"k{i}"), getattr(net, f"b{i}"), 4), norms[i]))
    h0 = ops.concat(front, 1)  # (n, 561, t)
    h1 = bn(ops.relu(conv(pad_time(h0, 3, 3, 3), net.k5, net.b5, 3)), norms[5], 3)
    h2 = ops.add(bn(ops.relu(conv(pad_time(h1, 3, 3, 3), net.k6, net.b6, 3)), norms[6], 3), h1)
    h3 = ops.add(bn(ops.relu(conv(pad_time(h2, 3, 3, 3), net.k7, net.b7, 3)), norms[7], 3), h2)
    mid = ops.concat([h0, h1, h2, h3], 1)  # (n, 753, t)
    max_pool = ops.reduce_max(mid, ints(2), keep_dims=False)
    mean_pool = ops.reduce_mean(mid, ints(2), keep_dims=False)
    pairs = ops.concat([ops.unsqueeze(max_pool, ints(2)), ops.unsqueeze(mean_pool, ints(2))], 2)
    flat = ops.reshape(pairs, ints(0, -1), special_zero=True)  # max_i, mean_i interleaved, as TensorFlow
    hidden = ops.add(ops.matmul(bn(flat, norms[8], 2), const(net.dense_w), False, True), const(net.dense_b))
    penultimate = bn(ops.relu(hidden), norms[9], 2)
    taggram = ops.sigmoid(ops.add(ops.matmul(penultimate, const(net.out_w), False, True), const(net.out_b)))
    outputs = (taggram, max_pool, mean_pool, penultimate)
    for node, name in zip(outputs, OUTPUTS, strict=True):
        node.output(0).get_tensor().set_names({name})
    return ov.Model(list(outputs), [log_mel], "musicnn")


class OpenVINOMusicnn(CompiledGraph):
    """log-mel patches ``(n, frames, 96)`` -> ``(taggram, max_pool, mean_pool, penultimate)`` float32 tensors."""

    def __init__(self, net: Any) -> None:
        super().__init__(build_graph(net), "float32")

    def __call__(self, log_mel: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = np.ascontiguousarray(log_mel.detach().cpu().numpy(), dtype=np.float32)
        return self.run(x, OUTPUTS)
