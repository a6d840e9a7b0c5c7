"""YAMNet's network run by OpenVINO (Intel's CPU runtime): the ``backend="openvino"`` of :class:`YAMNet`.

The graph is built directly with OpenVINO's opset from the float32 :class:`~musicgenre.yamnet.network.YAMNetCNN`
(no tracing, no ONNX file): 27 convolutions with the folded batch norm as a bias, TensorFlow's asymmetric
'SAME' padding as explicit ``pads_begin``/``pads_end``, ReLU, the global average pool (the embedding) and the
dense classifier. Building and compiling it takes well under a second.

``precision="bfloat16"`` sets OpenVINO's ``INFERENCE_PRECISION_HINT`` to ``bf16``: its CPU plugin then runs
the convolutions in bfloat16 on CPUs with native bfloat16 units (AVX512-BF16, AMX) and in float32 elsewhere.
The number of threads is torch's (``torch.get_num_threads()``) when the network is first called with it, so
``torch.set_num_threads`` governs both backends.

OpenVINO is an optional dependency (``pip install 'musicgenre[fast]'``): :func:`available` says whether it
is installed, and ``backend="auto"`` falls back to torch without it.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import Tensor

from musicgenre.yamnet import params as P
from musicgenre.yamnet.network import YAMNetCNN, same_padding

HINTS = {"float32": "f32", "bfloat16": "bf16"}


@lru_cache(maxsize=1)
def available() -> bool:
    """True when the ``openvino`` package can be imported."""
    return importlib.util.find_spec("openvino") is not None


def build_graph(cnn: YAMNetCNN) -> Any:
    """An ``openvino.Model``: patches ``(n, 96, 64)`` float32 -> ``embeddings (n, 1024)``, ``logits (n, 521)``."""
    import openvino as ov
    import openvino.opset13 as ops

    def const(t: Tensor | np.ndarray) -> Any:
        arr = t.detach().numpy() if isinstance(t, Tensor) else t
        return ops.constant(np.ascontiguousarray(arr, dtype=np.float32))

    patches = ops.parameter(ov.PartialShape([-1, P.PATCH_FRAMES, P.PATCH_BANDS]), ov.Type.f32, name="patches")
    x = ops.unsqueeze(patches, ops.constant(np.array([1], np.int64)))
    h, w = P.PATCH_FRAMES, P.PATCH_BANDS
    for module in cnn.layers:
        conv = module.conv
        k, stride, groups = conv.kernel_size[0], module.stride, conv.groups
        ph, pw = same_padding(h, k, stride), same_padding(w, k, stride)
        begin, end = [ph[0], pw[0]], [ph[1], pw[1]]
        weight = conv.weight.detach().numpy()
        if groups == 1:
            y = ops.convolution(x, const(weight), [stride, stride], begin, end, [1, 1])
        else:  # depthwise: (C, 1, k, k) -> (groups=C, 1, 1, k, k)
            grouped = weight.reshape(groups, weight.shape[0] // groups, weight.shape[1], k, k)
            y = ops.group_convolution(x, const(grouped), [stride, stride], begin, end, [1, 1])
        bias = const(conv.bias.detach().numpy().reshape(1, -1, 1, 1))
        x = ops.relu(ops.add(y, bias))
        h, w = -(-h // stride), -(-w // stride)
    embeddings = ops.reduce_mean(x, ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    logits = ops.add(
        ops.matmul(embeddings, const(cnn.dense.weight), transpose_a=False, transpose_b=True),
        const(cnn.dense.bias),
    )
    embeddings.output(0).get_tensor().set_names({"embeddings"})
    logits.output(0).get_tensor().set_names({"logits"})
    return ov.Model([embeddings, logits], [patches], "yamnet")


class OpenVINOCNN:
    """Patches ``(n, 96, 64)`` -> ``(embeddings (n, 1024), logits (n, 521))`` float32, run by OpenVINO.

    A drop-in for :class:`~musicgenre.yamnet.fast.FastCNN` in :meth:`YAMNet.infer`. One compiled model per
    thread count; calls are serialised by a lock (an infer request is not thread-safe).
    """

    def __init__(self, cnn: YAMNetCNN, precision: str = "float32") -> None:
        if precision not in HINTS:
            raise ValueError(f"precision must be one of {tuple(HINTS)}, got {precision!r}")
        self.precision = precision
        self._graph = build_graph(cnn)
        self._compiled: dict[int, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def compiled(self, threads: int | None = None) -> Any:
        """The compiled model for ``threads`` (default: ``torch.get_num_threads()``), compiled once."""
        import openvino as ov

        threads = threads or torch.get_num_threads()
        if threads not in self._compiled:
            config = {
                "INFERENCE_NUM_THREADS": threads,
                "INFERENCE_PRECISION_HINT": HINTS[self.precision],
                "PERFORMANCE_HINT": "LATENCY",
                # Pinning puts every process's threads on the same first cores: two feature workers
                # with one thread each then share one core (measured: 2 workers slower than 1).
                "ENABLE_CPU_PINNING": False,
            }
            model = ov.Core().compile_model(self._graph, "CPU", config)
            self._compiled[threads] = (model, model.create_infer_request())
        return self._compiled[threads][0]

    def execution_precision(self) -> str:
        """The precision OpenVINO actually runs (``"f32"`` on CPUs without bfloat16 units)."""
        return str(self.compiled().get_property("INFERENCE_PRECISION_HINT"))

    def __call__(self, patches: Tensor) -> tuple[Tensor, Tensor]:
        x = np.ascontiguousarray(patches.reshape(-1, P.PATCH_FRAMES, P.PATCH_BANDS).numpy(), dtype=np.float32)
        with self._lock:
            self.compiled()
            _, request = self._compiled[torch.get_num_threads()]
            result = request.infer({0: x})
            embeddings = torch.from_numpy(np.array(result["embeddings"], copy=True))
            logits = torch.from_numpy(np.array(result["logits"], copy=True))
        return embeddings, logits
