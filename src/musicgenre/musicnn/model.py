"""musicnn's network (``build_musicnn`` of musicnn 0.1.0's ``models.py``) in PyTorch, inference only.

Layout (TensorFlow's is channels-last ``(batch, time, freq)``; here ``(batch, channels, time, ...)``), with
every batch norm in inference mode (the checkpoint's moving statistics, epsilon 1e-3, after the ReLU):

- input batch norm (one channel);
- front-end: two *timbral* convolutions ``7 x 38`` and ``7 x 67`` (204 filters each, time zero-padded by 3,
  valid in frequency) and three *temporal* ones ``128/64/32 x 1`` (51 filters, TensorFlow 'same' padding),
  each ReLU, batch norm, max over frequency: 561 channels per frame;
- mid-end: three ``7``-frame convolutions (64 filters, time padded by 3), the 2nd and 3rd residual; the
  front-end and the three mid-end outputs are concatenated: 753 channels per frame;
- back-end: max and mean over time (``max_pool``, ``mean_pool``, 753 each), interleaved per channel into
  1,506, batch norm, dense 200 + ReLU + batch norm (``penultimate``), dense 50, sigmoid (the taggram).

Variables are named as the checkpoint names them (``conv2d``..``conv2d_7``, ``batch_normalization``..``_10``,
``dense``, ``dense_1``), in the order ``models.py`` creates them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicgenre.musicnn.frontend import MusicnnFrontend
from musicgenre.musicnn.tf_checkpoint import CheckpointFormatError, read_checkpoint

if TYPE_CHECKING:
    from musicgenre.musicnn.openvino_backend import OpenVINOMusicnn
    from musicgenre.pretrained import PretrainedBundle

BN_EPSILON = 1e-3
MODEL_DIRS = {"MSD": "MSD_musicnn", "MTT": "MTT_musicnn"}
# fmt: off
MTT_LABELS = ("guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals",
    "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft",
    "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
    "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral")
MSD_LABELS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
    "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
    "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s",
    "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy")
# fmt: on
LABELS = {"MSD": MSD_LABELS, "MTT": MTT_LABELS}
POOL_SIZE = 753
#: Segments per forward pass. Small batches are fastest on CPU: the timbral convolutions' outputs (9 MB per
#: 3 s segment each) stay in cache. Measured on one thread (BENCHMARKS.md): 1-4 best, 8 +25%, 32 +70%.
BATCH_SIZE = 4
PENULTIMATE_SIZE = 200
BACKEND_ENV_VAR = "MUSICGENRE_MUSICNN_BACKEND"


@dataclass(frozen=True)
class MusicnnOutput:
    """Per patch: ``taggram`` (n, 50) sigmoid tag probabilities, ``max_pool``/``mean_pool`` (n, 753),
    ``penultimate`` (n, 200), and the network's input ``log_mel`` (n, frames, 96)."""

    taggram: torch.Tensor
    max_pool: torch.Tensor
    mean_pool: torch.Tensor
    penultimate: torch.Tensor
    log_mel: torch.Tensor


class _BatchNorm(nn.Module):
    """Inference batch norm as a per-channel affine map, from a checkpoint's ``batch_normalization_i``."""

    def __init__(self, w: dict[str, np.ndarray], name: str) -> None:
        super().__init__()
        scale = w[f"{name}/gamma"] / np.sqrt(w[f"{name}/moving_variance"] + np.float32(BN_EPSILON))
        shift = w[f"{name}/beta"] - w[f"{name}/moving_mean"] * scale
        self.register_buffer("scale", torch.from_numpy(scale.astype(np.float32)))
        self.register_buffer("shift", torch.from_numpy(shift.astype(np.float32)))

    def forward(self, x: torch.Tensor, dim: int = 1) -> torch.Tensor:
        shape = [1] * x.ndim
        shape[dim] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)


def _conv2d(w: dict[str, np.ndarray], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A TensorFlow conv2d kernel ``(kh, kw, in, out)`` as torch's ``(out, in, kh, kw)``, and its bias."""
    k = torch.from_numpy(np.ascontiguousarray(w[f"{name}/kernel"].transpose(3, 2, 0, 1)))
    return k, torch.from_numpy(w[f"{name}/bias"])


class MusicnnNetwork(nn.Module):
    """log-mel patches ``(n, frames, 96)`` -> :class:`MusicnnOutput` (without ``log_mel``)."""

    def __init__(self, w: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.bn_in = _BatchNorm(w, "batch_normalization")
        kernels = [_conv2d(w, f"conv2d{'' if i == 0 else f'_{i}'}") for i in range(8)]
        for i, (k, b) in enumerate(kernels):
            if i >= 5:  # mid-end: (64, 1, 7, width) -> Conv1d (64, width, 7)
                k = k[:, 0].transpose(1, 2).contiguous()
            self.register_buffer(f"k{i}", k)
            self.register_buffer(f"b{i}", b)
        self.bns = nn.ModuleList(_BatchNorm(w, f"batch_normalization_{i}") for i in range(1, 11))
        self.register_buffer("dense_w", torch.from_numpy(w["dense/kernel"].T.copy()))
        self.register_buffer("dense_b", torch.from_numpy(w["dense/bias"]))
        self.register_buffer("out_w", torch.from_numpy(w["dense_1/kernel"].T.copy()))
        self.register_buffer("out_b", torch.from_numpy(w["dense_1/bias"]))

    def _freq_max(self, y: torch.Tensor, bn: _BatchNorm) -> torch.Tensor:
        """Batch norm, then max over frequency, of ``relu(conv)`` ``(n, c, t, f)`` -> ``(n, c, t)``.

        Computed as ``bn(relu(extreme))``: relu and the per-channel affine batch norm are monotone (increasing
        where the scale is positive, decreasing where it is negative), so the max over frequency of
        ``bn(relu(y))`` is ``bn(relu(max y))`` for a positive scale and ``bn(relu(min y))`` for a negative one,
        exactly, also in floating point. This reduces the large ``(n, c, t, f)`` tensor once or twice instead
        of writing it three times (relu, batch norm, max): the front-end's cost was mostly that memory traffic.
        """
        top = y.amax(dim=-1)
        if bool((bn.scale < 0).any()):
            top = torch.where(bn.scale.view(1, -1, 1) < 0, y.amin(dim=-1), top)
        return bn(top.relu())

    def forward(self, log_mel: torch.Tensor) -> MusicnnOutput:
        x = self.bn_in(log_mel.unsqueeze(1))  # (n, 1, t, 96)
        bn = self.bns
        padded = F.pad(x, (0, 0, 3, 3))
        front = [
            self._freq_max(F.conv2d(padded, self.k0, self.b0), bn[0]),  # timbral 7 x 38
            self._freq_max(F.conv2d(padded, self.k1, self.b1), bn[1]),  # timbral 7 x 67
        ]
        for i, length in ((2, 128), (3, 64), (4, 32)):  # temporal, TensorFlow 'same': more padding after
            same = F.pad(x, (0, 0, (length - 1) // 2, length // 2))
            front.append(
                self._freq_max(F.conv2d(same, getattr(self, f"k{i}"), getattr(self, f"b{i}")), bn[i])
            )
        h0 = torch.cat(front, dim=1)  # (n, 561, t)
        h1 = bn[5](F.conv1d(F.pad(h0, (3, 3)), self.k5, self.b5).relu())
        h2 = bn[6](F.conv1d(F.pad(h1, (3, 3)), self.k6, self.b6).relu()) + h1
        h3 = bn[7](F.conv1d(F.pad(h2, (3, 3)), self.k7, self.b7).relu()) + h2
        mid = torch.cat([h0, h1, h2, h3], dim=1)  # (n, 753, t)
        max_pool, mean_pool = mid.amax(dim=-1), mid.mean(dim=-1)
        flat = torch.stack([max_pool, mean_pool], dim=-1).flatten(1)  # TensorFlow's order: max_i, mean_i
        penultimate = bn[9](F.linear(bn[8](flat), self.dense_w, self.dense_b).relu())
        taggram = torch.sigmoid(F.linear(penultimate, self.out_w, self.out_b))
        return MusicnnOutput(taggram, max_pool, mean_pool, penultimate, log_mel)


def resolve_backend(backend: str | None = "auto") -> str:
    """``"torch"`` or ``"openvino"`` for musicnn's network: ``backend``, else ``$MUSICGENRE_MUSICNN_BACKEND``,
    else ``"openvino"`` when it is installed (``pip install 'musicgenre[fast]'``), else ``"torch"``."""
    from musicgenre.openvino_runtime import resolve_backend as resolve

    return resolve(backend, BACKEND_ENV_VAR, "musicnn")


class Musicnn(nn.Module):
    """musicnn end to end: 16 kHz segments ``(n, samples)`` -> :class:`MusicnnOutput`, one patch per segment.

    ``sample_rate``, ``scene_embedding_size`` and ``timestamp_embedding_size`` (max_pool + mean_pool) follow
    the HEAR API (see :mod:`musicgenre.musicnn.hear`). ``backend`` (``"torch"`` or ``"openvino"``, resolved
    from ``"auto"``) runs the network in :meth:`infer` on the CPU; both are float32 and agree to about 1e-6
    (see :mod:`musicgenre.musicnn.openvino_backend`), so the features' cache key does not name it.
    """

    sample_rate = 16000
    scene_embedding_size = 2 * POOL_SIZE
    timestamp_embedding_size = 2 * POOL_SIZE

    def __init__(
        self, weights: dict[str, np.ndarray], labels: tuple[str, ...], backend: str = "auto"
    ) -> None:
        super().__init__()
        self.frontend = MusicnnFrontend()
        self.network = MusicnnNetwork(weights)
        self.labels = labels
        self.backend = resolve_backend(backend)
        self._fast: OpenVINOMusicnn | None = None
        self._fast_lock = threading.Lock()

    def forward(self, x: torch.Tensor) -> MusicnnOutput:
        return self.network(self.frontend(x))

    def fast_network(self) -> OpenVINOMusicnn | None:
        """The OpenVINO network :meth:`infer` uses (built on first use), or None for torch or off the CPU."""
        if self.backend != "openvino" or self.frontend.window.device.type != "cpu":
            return None
        with self._fast_lock:
            if self._fast is None:
                from musicgenre.musicnn.openvino_backend import OpenVINOMusicnn

                self._fast = OpenVINOMusicnn(self.network)
            return self._fast

    @torch.inference_mode()
    def infer(
        self, segments: np.ndarray | torch.Tensor, batch_size: int = BATCH_SIZE, *, fast: bool = True
    ) -> MusicnnOutput:
        """Outputs of ``segments`` (float32, 16 kHz), computed ``batch_size`` segments at a time.

        ``fast=False`` runs the torch network whatever the backend."""
        x = torch.as_tensor(np.asarray(segments, dtype=np.float32))
        device = self.frontend.window.device
        net = self.fast_network() if fast else None
        parts = []
        for i in range(0, max(1, len(x)), batch_size):
            batch = x[i : i + batch_size].to(device)
            if net is None:
                parts.append(self(batch))
            else:
                log_mel = self.frontend(batch)
                parts.append(MusicnnOutput(*net(log_mel), log_mel))
        return MusicnnOutput(
            *(torch.cat([getattr(p, f) for p in parts]) for f in MusicnnOutput.__dataclass_fields__)
        )


#: Bump when reading the checkpoint changes, so that older converted files are not used.
CONVERTED_VERSION = 1


def load_network(
    folder: str | Path, model: str, backend: str = "auto", bundle: PretrainedBundle | None = None
) -> Musicnn:
    """The ``model`` ("MSD" or "MTT") network from a weights folder holding ``MSD_musicnn/`` and ``MTT_musicnn/``.

    With the folder's ``bundle`` (its content id), the arrays read from the TensorFlow checkpoint are kept in
    :func:`~musicgenre.pretrained.converted_path` (``<cache_dir>/musicnn-converted/``), so later processes
    skip the checkpoint reader and its CRC-32C checks (about 0.2 s per model).
    """
    from musicgenre import pretrained

    if model not in MODEL_DIRS:
        raise ValueError(f"unknown musicnn model {model!r}; choose from {sorted(MODEL_DIRS)}")
    prefix = f"{Path(folder) / MODEL_DIRS[model]}/"
    names = [f"conv2d{'' if i == 0 else f'_{i}'}/{v}" for i in range(8) for v in ("kernel", "bias")]
    names += [
        f"batch_normalization{'' if i == 0 else f'_{i}'}/{v}"
        for i in range(11)
        for v in ("gamma", "beta", "moving_mean", "moving_variance")
    ]
    names += [f"{d}/{v}" for d in ("dense", "dense_1") for v in ("kernel", "bias")]
    cache = pretrained.converted_path(bundle, "musicnn", CONVERTED_VERSION, model) if bundle else None
    weights = pretrained.read_converted(cache) if cache else None
    if weights is None or not set(names) <= set(weights):
        weights = read_checkpoint(prefix, names)
        if cache:
            pretrained.write_converted(cache, weights)
    if weights["dense/kernel"].shape != (2 * POOL_SIZE, PENULTIMATE_SIZE):
        raise CheckpointFormatError(
            f"{prefix}: not a musicnn checkpoint (dense/kernel is {weights['dense/kernel'].shape})"
        )
    return Musicnn(weights, LABELS[model], backend).eval()


_CACHE: dict[tuple[str, str, str, str], Musicnn] = {}
_LOCK = threading.Lock()


def get_model(
    bundle: PretrainedBundle | str | Path | None = None,
    model: str = "MSD",
    device: str | torch.device | None = None,
    backend: str = "auto",
) -> Musicnn:
    """The ``model`` network with these weights (a bundle, a folder, or None: the default resolution),
    loaded once per process, device (``None``: :func:`~musicgenre.device.current_device`) and backend (see
    :func:`resolve_backend`); :meth:`Musicnn.infer` takes CPU input and returns outputs on that device."""
    from musicgenre.device import device_or_current
    from musicgenre.musicnn.weights import resolve_weights

    resolved = resolve_weights(bundle)
    where = str(device_or_current(device))
    chosen = resolve_backend(backend) if where == "cpu" else "torch"
    key = (resolved.identity, model, where, chosen)
    with _LOCK:
        if key not in _CACHE:
            net = load_network(resolved.path, model, chosen, bundle=resolved)
            _CACHE[key] = net if where == "cpu" else net.to(where)
        return _CACHE[key]
