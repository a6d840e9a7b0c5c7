"""The whole YAMNet: waveform -> log-mel -> patches -> embeddings and AudioSet scores; loading and caching.

>>> model = get_model()                       # resolves weights (see musicgenre.yamnet.weights), cached
>>> out = model.infer(np.zeros((2, 48000), np.float32))
>>> out.log_mel.shape, out.embeddings.shape, out.scores.shape
(torch.Size([2, 336, 64]), torch.Size([2, 6, 1024]), torch.Size([2, 6, 521]))

:meth:`YAMNet.forward` is the plain eager computation. :meth:`YAMNet.infer` is the fast batched path used
for feature extraction: inference mode, patches of many clips in chunks through a channels-last network
(see :mod:`musicgenre.yamnet.fast`), or by OpenVINO (``backend``, see :mod:`musicgenre.yamnet.backends`);
tests check both against the plain path.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from musicgenre.pretrained import PretrainedBundle
from musicgenre.yamnet import params as P
from musicgenre.yamnet.backends import resolve_backend
from musicgenre.yamnet.fast import DEFAULT_CHUNKS, DTYPES, FastCNN, resolve_precision
from musicgenre.yamnet.frontend import Frontend, num_patches, patch_times
from musicgenre.yamnet.network import FusedWeights, YAMNetCNN
from musicgenre.yamnet.openvino_backend import OpenVINOCNN
from musicgenre.yamnet.weights import load_weights, resolve_weights

#: "float": the float log-mel (default, as Google's Keras model); "tflite": the log-mel exactly as the TFLite
#: interpreter computes it from yamnet_int8.tflite (int8 DFT and mel kernels, activations quantized on the
#: fly; see musicgenre.yamnet.emulation), to reproduce the interpreter's outputs.
FRONTENDS = ("float", "tflite")


_THREADS_LOCK = threading.Lock()


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block on one torch thread, then restore the thread count (serialised by a lock).

    With the OpenVINO backend, the log-mel frontend (about a tenth of the work) and the copies of the patches
    run on the calling thread while OpenVINO's threads run the network. With more than one torch thread,
    torch's OpenMP workers keep spinning after each of those small operations and take the cores from
    OpenVINO's threads (measured at 2 threads: 0.67 against 0.47 ms/patch); on one thread there is no
    worker to spin. The lock is not re-entrant: the block must not call this again.
    """
    with _THREADS_LOCK:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


class YAMNetOutput(NamedTuple):
    """Outputs for a batch of equally long waveforms ``(batch, n)``."""

    scores: Tensor  # (batch, patches, 521), sigmoid of the logits
    embeddings: Tensor  # (batch, patches, 1024)
    log_mel: Tensor  # (batch, frames, 64), of the padded waveform


class YAMNet(nn.Module):
    """YAMNet as a module. Waveforms are 16 kHz mono float32 in [-1, 1].

    Attributes ``sample_rate``, ``scene_embedding_size`` and ``timestamp_embedding_size`` follow the HEAR
    API (see :mod:`musicgenre.yamnet.hear`). ``weights_kind`` is ``"tflite-int8"`` or ``"keras-float"``.
    ``precision`` (``"float32"`` or ``"bfloat16"``, resolved from ``"auto"``) is that of the fast network
    used by :meth:`infer`; the plain :meth:`forward` is always float32. ``backend`` (``"torch"`` or
    ``"openvino"``, resolved from ``"auto"``) is the runtime of that network.
    """

    sample_rate = P.SAMPLE_RATE
    scene_embedding_size = P.EMBEDDING_SIZE
    timestamp_embedding_size = P.EMBEDDING_SIZE

    def __init__(
        self,
        weights: FusedWeights,
        source: PretrainedBundle | None = None,
        frontend: str = "float",
        precision: str = "auto",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if frontend not in FRONTENDS:
            raise ValueError(f"frontend must be one of {FRONTENDS}, got {frontend!r}")
        if frontend == "tflite":
            from musicgenre.yamnet.emulation import TFLiteLogMel

            self.frontend = Frontend(TFLiteLogMel())
        else:
            self.frontend = Frontend()
        self.frontend_kind = frontend
        self.cnn = YAMNetCNN(weights)
        self.weights_kind = weights.kind
        self.weights_source = source
        self.precision = resolve_precision(precision)
        self.backend = resolve_backend(backend)
        self._fast: nn.Module | OpenVINOCNN | None = None
        self._fast_lock = threading.Lock()
        self.eval()

    @staticmethod
    def _as_batch(waveforms: Tensor | np.ndarray) -> Tensor:
        x = torch.as_tensor(
            np.asarray(waveforms, dtype=np.float32) if isinstance(waveforms, np.ndarray) else waveforms
        )
        if x.dim() == 1:
            x = x.unsqueeze(0)
        if x.dim() != 2:
            raise ValueError(f"expected waveforms (batch, samples) or (samples,), got shape {tuple(x.shape)}")
        return x.float()

    def forward(self, waveforms: Tensor) -> YAMNetOutput:
        """Plain eager path: ``(batch, n)`` (or ``(n,)``) -> :class:`YAMNetOutput`."""
        x = self._as_batch(waveforms)
        log_mel, patches = self.frontend(x)
        b, p = patches.shape[:2]
        embeddings, logits = self.cnn(patches.reshape(b * p, P.PATCH_FRAMES, P.PATCH_BANDS))
        return YAMNetOutput(
            torch.sigmoid(logits).view(b, p, -1), embeddings.view(b, p, -1), log_mel.contiguous()
        )

    def fast_cnn(self) -> nn.Module | OpenVINOCNN:
        """The optimised network used by :meth:`infer` (built on first use, once per model), per ``backend``."""
        with self._fast_lock:
            if self._fast is None:
                if self.backend == "openvino":
                    self._fast = OpenVINOCNN(self.cnn, self.precision)
                else:
                    self._fast = FastCNN(self.cnn, DTYPES[self.precision])
            return self._fast

    @torch.inference_mode()
    def infer(
        self, waveforms: Tensor | np.ndarray, *, fast: bool = True, chunk: int | None = None
    ) -> YAMNetOutput:
        """Batched inference: ``(batch, n)`` -> :class:`YAMNetOutput`, patches through the net in chunks.

        Each row is padded on its own (YAMNet's rule), so a row's output does not depend on the others.
        ``fast=False`` runs the plain eager float32 network instead of :meth:`fast_cnn` (whatever the backend).
        ``chunk`` (patches per network call) defaults to the best measured for the precision.
        """
        chunk = max(1, chunk or DEFAULT_CHUNKS[self.precision])
        x = self._as_batch(waveforms).to(next(self.cnn.parameters()).device)
        net: nn.Module | OpenVINOCNN = self.fast_cnn() if fast else self.cnn
        # Rows go through in blocks of about ``chunk`` patches, frontend then network, so that a block's
        # frames and spectra stay in cache (1.18x faster than one frontend call on 100 segments).
        rows = max(1, chunk // num_patches(x.shape[-1]))
        mel_parts: list[Tensor] = []

        def patch_chunks() -> Iterator[Tensor]:
            for first in range(0, x.shape[0], rows):
                log_mel, patches = self.frontend(x[first : first + rows])
                mel_parts.append(log_mel)
                flat = patches.reshape(-1, P.PATCH_FRAMES, P.PATCH_BANDS)
                for start in range(0, flat.shape[0], chunk):
                    yield flat[start : start + chunk]

        threads = torch.get_num_threads()
        if isinstance(net, OpenVINOCNN) and threads > 1:
            # OpenVINO's threads run the network on one block while this thread computes the next block's
            # log-mel, on one torch thread for the whole call (see one_torch_thread). On one thread the calls
            # stay synchronous: one thread means one core (feature workers run one thread each).
            with one_torch_thread():
                outputs = list(net.pipelined(patch_chunks(), threads=threads))
        else:
            outputs = [net(patches) for patches in patch_chunks()]
        b, p = x.shape[0], num_patches(x.shape[-1])
        embeddings = torch.cat([e for e, _ in outputs]).view(b, p, -1)
        scores = torch.sigmoid(torch.cat([lg for _, lg in outputs])).view(b, p, -1)
        return YAMNetOutput(scores, embeddings, torch.cat(mel_parts).contiguous())

    def patch_times(self, num_samples: int) -> np.ndarray:
        """Start time (s) of each patch of a waveform of ``num_samples`` samples."""
        return patch_times(num_samples)


def load_model(
    weights: str | Path | PretrainedBundle | None = None,
    frontend: str = "float",
    precision: str = "auto",
    backend: str = "auto",
) -> YAMNet:
    """A new :class:`YAMNet` with the weights of a bundle, a path, or (None) the default resolution.

    See :mod:`musicgenre.yamnet.weights` for the resolution order.
    """
    bundle = resolve_weights(weights)
    return YAMNet(load_weights(bundle), bundle, frontend, precision, backend)


@lru_cache(maxsize=8)  # weights x frontend x precision x backend x device
def _cached_model(
    bundle: PretrainedBundle, frontend: str, precision: str, backend: str, device: str = "cpu"
) -> YAMNet:
    model = load_model(bundle, frontend, precision, backend)
    return model if device == "cpu" else model.to(device)


def get_model(
    weights: str | Path | PretrainedBundle | None = None,
    frontend: str = "float",
    precision: str = "auto",
    backend: str = "auto",
    device: str | torch.device | None = None,
) -> YAMNet:
    """The process-wide :class:`YAMNet` for these weights and settings: loaded once, then shared.

    ``weights`` is a bundle (``bundle.get_model()`` calls this), a path, or None (the default resolution).
    Models are cached per bundle (file, content and origin), so different weights give different models.
    ``device``: where it runs (``None``: :func:`~musicgenre.device.current_device`); :meth:`YAMNet.infer`
    takes CPU input and returns outputs on that device.
    """
    from musicgenre.device import device_or_current

    bundle = resolve_weights(weights)
    bundle = dataclasses.replace(bundle, path=bundle.path.resolve())
    where = str(device_or_current(device))
    # OpenVINO runs on the CPU; on a GPU the torch network runs.
    chosen = resolve_backend(backend) if where == "cpu" else "torch"
    return _cached_model(bundle, frontend, resolve_precision(precision), chosen, where)
