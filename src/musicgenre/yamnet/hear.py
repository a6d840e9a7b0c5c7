"""HEAR 2021 API for our YAMNet, so that it plugs into hear-eval-kit (``--module musicgenre.yamnet.hear``).

- :func:`load_model` ``(model_file_path="")`` -> a :class:`~musicgenre.yamnet.model.YAMNet` module with
  ``sample_rate`` (16000), ``scene_embedding_size`` and ``timestamp_embedding_size`` (1024). An empty path
  resolves the weights as everywhere else (see :mod:`musicgenre.yamnet.weights`); a
  :class:`~musicgenre.pretrained.PretrainedBundle` is used as it is.
- :func:`get_timestamp_embeddings` ``(audio (n_sounds, n_samples), model)`` ->
  ``(embeddings (n_sounds, n_timestamps, 1024), timestamps (n_sounds, n_timestamps))`` in milliseconds. One
  embedding per 0.96 s patch with a 0.48 s hop; its timestamp is the patch centre, 487.5 + 480 i ms.
- :func:`get_scene_embeddings` ``(audio, model)`` -> ``(n_sounds, 1024)``: the mean over timestamps.

Audio is 16 kHz mono float32 in [-1, 1]; it is padded by YAMNet's rule (to at least 0.975 s, then to a whole
number of 0.48 s hops), so every sound gets at least one embedding.
"""

from __future__ import annotations

import torch
from torch import Tensor

from musicgenre.pretrained import PretrainedBundle
from musicgenre.yamnet import params as P
from musicgenre.yamnet.frontend import num_patches
from musicgenre.yamnet.model import YAMNet
from musicgenre.yamnet.model import load_model as _load_model

__all__ = ["get_scene_embeddings", "get_timestamp_embeddings", "load_model"]


def load_model(model_file_path: str | PretrainedBundle = "") -> YAMNet:
    """Load YAMNet with the weights at ``model_file_path`` (``.h5`` or ``.tflite``, or a bundle; empty: resolve)."""
    return _load_model(model_file_path or None)


def _check(audio: Tensor, model: YAMNet) -> Tensor:
    if not isinstance(model, YAMNet):
        raise TypeError(f"model must be a YAMNet from load_model(), got {type(model).__name__}")
    if audio.dim() != 2:
        raise ValueError(f"audio must be (n_sounds, n_samples), got shape {tuple(audio.shape)}")
    return audio


def timestamps_ms(num_samples: int) -> Tensor:
    """Centre of each patch in milliseconds, for a sound of ``num_samples`` samples."""
    hop_ms = 1000.0 * P.PATCH_HOP_SAMPLES / P.SAMPLE_RATE
    centre_ms = 1000.0 * (P.MIN_SAMPLES / 2) / P.SAMPLE_RATE
    return centre_ms + hop_ms * torch.arange(num_patches(num_samples), dtype=torch.float32)


def get_timestamp_embeddings(audio: Tensor, model: YAMNet) -> tuple[Tensor, Tensor]:
    """Embeddings ``(n_sounds, n_timestamps, 1024)`` and timestamps ``(n_sounds, n_timestamps)`` in ms."""
    audio = _check(audio, model)
    device = next(model.parameters()).device
    out = model.infer(audio.detach().to(device, torch.float32))
    embeddings = out.embeddings.clone()  # a normal tensor, usable outside inference mode
    ts = timestamps_ms(int(audio.shape[1])).expand(audio.shape[0], -1).contiguous()
    return embeddings.to(audio.device), ts.to(audio.device)


def get_scene_embeddings(audio: Tensor, model: YAMNet) -> Tensor:
    """One embedding per sound, ``(n_sounds, 1024)``: the mean of its timestamp embeddings."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(dim=1)
