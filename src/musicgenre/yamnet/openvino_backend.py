"""YAMNet's network run by OpenVINO (Intel's CPU runtime): the ``backend="openvino"`` of :class:`YAMNet`.

The graph is built directly with OpenVINO's opset from the float32 :class:`~musicgenre.yamnet.network.YAMNetCNN`
(no tracing, no ONNX file): 27 convolutions with the folded batch norm as a bias, TensorFlow's asymmetric
'SAME' padding as explicit ``pads_begin``/``pads_end``, ReLU, the global average pool (the embedding) and the
dense classifier. Building and compiling it takes well under a second.

``precision="bfloat16"`` sets OpenVINO's ``INFERENCE_PRECISION_HINT`` to ``bf16``: its CPU plugin then runs
the convolutions in bfloat16 on CPUs with native bfloat16 units (AVX512-BF16, AMX) and in float32 elsewhere.
Compilation per thread count and the lock: :class:`musicgenre.openvino_runtime.CompiledGraph`.

:meth:`OpenVINOCNN.pipelined` runs the network asynchronously on chunks produced lazily by the caller: while
OpenVINO's threads work on one chunk, the calling thread computes the next (the log-mel frontend, in
:meth:`YAMNet.infer <musicgenre.yamnet.model.YAMNet.infer>`, which does so with two or more threads; on one
thread its calls stay synchronous, on one core). On two threads this hides most of the frontend behind the
network (BENCHMARKS.md: about 0.49 against 0.39 ms per patch for the network alone).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

from musicgenre.openvino_runtime import HINTS, CompiledGraph, available
from musicgenre.yamnet import params as P
from musicgenre.yamnet.network import YAMNetCNN, same_padding

__all__ = ["HINTS", "OpenVINOCNN", "available", "build_graph"]


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


class OpenVINOCNN(CompiledGraph):
    """Patches ``(n, 96, 64)`` -> ``(embeddings (n, 1024), logits (n, 521))`` float32, run by OpenVINO.

    A drop-in for :class:`~musicgenre.yamnet.fast.FastCNN` in :meth:`YAMNet.infer`. One compiled model per
    thread count; calls are serialised by a lock (an infer request is not thread-safe).
    """

    def __init__(self, cnn: YAMNetCNN, precision: str = "float32") -> None:
        super().__init__(build_graph(cnn), precision)
        self._queues: dict[tuple[int, int], Any] = {}

    def __call__(self, patches: Tensor) -> tuple[Tensor, Tensor]:
        embeddings, logits = self.run(_as_input(patches), ("embeddings", "logits"))
        return embeddings, logits

    def pipelined(
        self, chunks: Iterable[Tensor], in_flight: int = 2, threads: int | None = None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """``(embeddings, logits)`` of each chunk of ``chunks``, in order, computed asynchronously.

        ``chunks`` is consumed lazily: the next chunk is produced (by the caller's generator, on the calling
        thread) while at most ``in_flight`` earlier ones run in OpenVINO's ``threads`` threads (default:
        ``torch.get_num_threads()``). The same outputs as calling the network on each chunk; the calls of
        other threads wait until the whole iteration has ended, so the consumer must not call this network
        (``self(...)`` or another iteration) inside its loop: the lock is not re-entrant. An error (of the
        producer, of OpenVINO, or of reading a result) is raised to the consumer, and the request queue that
        saw it is replaced (OpenVINO's queue would raise it again on every later call).
        """
        import openvino as ov

        with self.lock:
            threads = threads or torch.get_num_threads()
            compiled = self.compiled(threads)
            key = (threads, in_flight)
            if key not in self._queues:
                self._queues[key] = ov.AsyncInferQueue(compiled, in_flight)
            queue = self._queues[key]
            done: dict[int, tuple[Tensor, Tensor] | BaseException] = {}

            def finished(request: Any, index: int) -> None:
                try:
                    done[index] = (
                        torch.from_numpy(np.array(request.get_tensor("embeddings").data, copy=True)),
                        torch.from_numpy(np.array(request.get_tensor("logits").data, copy=True)),
                    )
                except BaseException as exc:  # raised by the consumer, never inside OpenVINO's queue
                    done[index] = exc

            def take(index: int) -> tuple[Tensor, Tensor]:
                if index not in done:
                    raise RuntimeError(f"OpenVINO returned no result for chunk {index} of the YAMNet network")
                value = done.pop(index)
                if isinstance(value, BaseException):
                    raise value
                return value

            queue.set_callback(finished)
            submitted, emitted = 0, 0
            try:
                for chunk in chunks:
                    queue.start_async({0: _as_input(chunk)}, submitted)  # waits for a free request
                    submitted += 1
                    while emitted in done:  # results that are already in, in order
                        yield take(emitted)
                        emitted += 1
                queue.wait_all()
                while emitted < submitted:
                    yield take(emitted)
                    emitted += 1
            except GeneratorExit:
                raise
            except BaseException:
                self._queues.pop(key, None)  # OpenVINO's queue keeps its errors: the next call gets a new one
                raise
            finally:
                try:
                    queue.wait_all()  # an abandoned iteration leaves no request running
                except Exception:  # an error already propagating is the one reported; drop this queue
                    self._queues.pop(key, None)


def _as_input(patches: Tensor) -> np.ndarray:
    """Patches as the contiguous float32 ``(n, 96, 64)`` array the compiled model takes."""
    return np.ascontiguousarray(patches.reshape(-1, P.PATCH_FRAMES, P.PATCH_BANDS).numpy(), dtype=np.float32)
