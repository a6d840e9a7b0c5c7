"""One compiled OpenVINO model per torch thread count, called under a lock: shared by the YAMNet and musicnn
OpenVINO backends (:mod:`musicgenre.yamnet.openvino_backend`, :mod:`musicgenre.musicnn.openvino_backend`).

The number of threads is torch's (``torch.get_num_threads()``) when the model is first called with it, so
``torch.set_num_threads`` governs both runtimes. ``precision`` ``"bfloat16"`` sets OpenVINO's
``INFERENCE_PRECISION_HINT`` to ``bf16`` (bfloat16 on CPUs with native units, float32 elsewhere);
``"float32"`` keeps every operation in float32.

OpenVINO is an optional dependency (``pip install 'musicgenre[fast]'``): :func:`available` says whether it is
installed.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import lru_cache
from typing import Any

import numpy as np
import torch

HINTS = {"float32": "f32", "bfloat16": "bf16"}


@lru_cache(maxsize=1)
def available() -> bool:
    """True when the ``openvino`` package can be imported."""
    return importlib.util.find_spec("openvino") is not None


BACKENDS = ("auto", "torch", "openvino")


def resolve_backend(backend: str | None, env_var: str, network: str) -> str:
    """``"torch"`` or ``"openvino"`` for ``network`` (e.g. "YAMNet"): ``backend``, else ``$env_var``, else
    ``"openvino"`` when it is installed, else ``"torch"``.

    An explicit ``"openvino"`` without the package raises ``ImportError``; ``"auto"`` falls back to torch.
    """
    backend = backend or "auto"
    if backend == "auto":
        backend = os.environ.get(env_var, "auto") or "auto"
    if backend not in BACKENDS:
        raise ValueError(f"{network} backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "openvino" if available() else "torch"
    if backend == "openvino" and not available():
        raise ImportError(
            f"{network} backend 'openvino' needs the openvino package: pip install 'musicgenre[fast]'"
        )
    return backend


class CompiledGraph:
    """An ``openvino.Model`` compiled for the CPU on first use at each thread count; :meth:`run` is thread-safe."""

    def __init__(self, graph: Any, precision: str = "float32") -> None:
        if precision not in HINTS:
            raise ValueError(f"precision must be one of {tuple(HINTS)}, got {precision!r}")
        self.precision = precision
        self.graph = graph
        self._compiled: dict[int, tuple[Any, Any]] = {}
        self.lock = threading.Lock()  # an infer request is not thread-safe

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
            model = ov.Core().compile_model(self.graph, "CPU", config)
            self._compiled[threads] = (model, model.create_infer_request())
        return self._compiled[threads][0]

    def execution_precision(self) -> str:
        """The precision OpenVINO actually runs (``"f32"`` on CPUs without bfloat16 units)."""
        return str(self.compiled().get_property("INFERENCE_PRECISION_HINT"))

    def run(self, x: np.ndarray, names: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
        """The outputs ``names`` for the input ``x``, as float32 tensors that own their memory."""
        with self.lock:
            self.compiled()
            _, request = self._compiled[torch.get_num_threads()]
            result = request.infer({0: x})
            return tuple(torch.from_numpy(np.array(result[n], copy=True)) for n in names)
