"""Which runtime executes YAMNet's network in :meth:`YAMNet.infer`: ``"torch"`` or ``"openvino"``.

- ``"torch"``: :class:`~musicgenre.yamnet.fast.FastCNN` (always installed; the reference and the fallback).
- ``"openvino"``: :class:`~musicgenre.yamnet.openvino_backend.OpenVINOCNN`, about 2x faster than torch on
  CPU in both precisions (see BENCHMARKS.md); needs the optional ``openvino`` package
  (``pip install 'musicgenre[fast]'``).
- ``"auto"`` (default): ``$MUSICGENRE_YAMNET_BACKEND`` if set, else ``"openvino"`` when it is installed, else
  ``"torch"``.

The frontend (log-mel) always runs in torch, in float32, whatever the backend. Both backends pass the same
agreement checks against the float32 torch network (tests/test_yamnet_backends.py).
"""

from __future__ import annotations

from musicgenre import openvino_runtime
from musicgenre.openvino_runtime import BACKENDS

__all__ = ["BACKENDS", "BACKEND_ENV_VAR", "resolve_backend"]

BACKEND_ENV_VAR = "MUSICGENRE_YAMNET_BACKEND"


def resolve_backend(backend: str | None = "auto") -> str:
    """``"torch"`` or ``"openvino"``: ``backend``, else ``$MUSICGENRE_YAMNET_BACKEND``, else auto.

    An explicit ``"openvino"`` without the package raises ``ImportError``; ``"auto"`` falls back to torch.
    """
    return openvino_runtime.resolve_backend(backend, BACKEND_ENV_VAR, "YAMNet")
