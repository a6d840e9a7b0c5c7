"""HEAR 2021 API for our musicnn, so that it plugs into hear-eval-kit (``--module musicgenre.musicnn.hear``).

The same shape and contract as :mod:`musicgenre.yamnet.hear`:

- :func:`load_model` ``(model="MSD", weights=None)`` -> a new :class:`~musicgenre.musicnn.model.Musicnn`
  (``"MSD"`` or ``"MTT"``) with ``sample_rate`` (16000), ``scene_embedding_size`` and
  ``timestamp_embedding_size`` (1506). ``weights`` is a weights folder, a bundle, or None (resolved as
  everywhere else, see :mod:`musicgenre.musicnn.weights`). HEAR's ``load_model(model_file_path)`` works
  too: a first argument that is not "MSD"/"MTT" is taken as the weights folder (MSD model; "" resolves).
- :func:`get_timestamp_embeddings` ``(audio (n_sounds, n_samples), model)`` ->
  ``(embeddings (n_sounds, n_timestamps, 1506), timestamps (n_sounds, n_timestamps))`` in milliseconds.
  One embedding per 3 s patch (musicnn's ``input_length``) with a **1.5 s hop**; its timestamp is the patch
  centre, 1500 + 1500 i ms. The embedding is ``max_pool`` then ``mean_pool`` (753 each), the feature of
  :mod:`musicgenre.features.musicnn` and the input of musicnn's dense back-end.
- :func:`get_scene_embeddings` ``(audio, model)`` -> ``(n_sounds, 1506)``: the mean over timestamps.

Audio is 16 kHz mono float32 in [-1, 1]. Each sound is zero-padded to at least one patch, then to a whole
number of hops, so every sound gets at least one embedding and its tail is covered.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from musicgenre.musicnn.model import MODEL_DIRS, Musicnn, load_network
from musicgenre.musicnn.weights import resolve_weights
from musicgenre.pretrained import PretrainedBundle

__all__ = ["get_scene_embeddings", "get_timestamp_embeddings", "load_model"]

SAMPLE_RATE = 16000
PATCH_SAMPLES = 3 * SAMPLE_RATE
HOP_SAMPLES = PATCH_SAMPLES // 2


def load_model(model: str = "MSD", weights: str | Path | PretrainedBundle | None = None) -> Musicnn:
    """A new musicnn ``model`` ("MSD" or "MTT") with these ``weights`` (None: the default resolution).

    HEAR calls ``load_model(model_file_path)`` with one string: besides "MSD" and "MTT", ``model`` may be a
    weights folder (the MSD model is loaded from it) or "" (the MSD model, weights resolved).
    """
    if model not in MODEL_DIRS:
        if model and weights is None:
            weights = model
        model = "MSD"
    bundle = resolve_weights(weights)
    return load_network(bundle.path, model)


def _check(audio: Tensor, model: Musicnn) -> Tensor:
    if not isinstance(model, Musicnn):
        raise TypeError(f"model must be a Musicnn from load_model(), got {type(model).__name__}")
    if audio.dim() != 2:
        raise ValueError(f"audio must be (n_sounds, n_samples), got shape {tuple(audio.shape)}")
    return audio


def num_patches(num_samples: int) -> int:
    """Patches of a sound of ``num_samples``: at least one, then one per hop until the end is covered."""
    return 1 + max(0, -(-(num_samples - PATCH_SAMPLES) // HOP_SAMPLES))


def timestamps_ms(num_samples: int) -> Tensor:
    """Centre of each patch in milliseconds, for a sound of ``num_samples`` samples."""
    hop_ms = 1000.0 * HOP_SAMPLES / SAMPLE_RATE
    centre_ms = 1000.0 * PATCH_SAMPLES / 2 / SAMPLE_RATE
    return centre_ms + hop_ms * torch.arange(num_patches(num_samples), dtype=torch.float32)


def get_timestamp_embeddings(audio: Tensor, model: Musicnn) -> tuple[Tensor, Tensor]:
    """Embeddings ``(n_sounds, n_timestamps, 1506)`` and timestamps ``(n_sounds, n_timestamps)`` in ms."""
    audio = _check(audio, model)
    n, length = int(audio.shape[0]), int(audio.shape[1])
    p = num_patches(length)
    padded = F.pad(audio.detach().float().cpu(), (0, PATCH_SAMPLES + (p - 1) * HOP_SAMPLES - length))
    patches = padded.unfold(1, PATCH_SAMPLES, HOP_SAMPLES).reshape(n * p, PATCH_SAMPLES)
    out = model.infer(patches)
    embeddings = torch.cat([out.max_pool, out.mean_pool], dim=1).view(n, p, -1).clone()
    ts = timestamps_ms(length).expand(n, -1).contiguous()
    return embeddings.to(audio.device), ts.to(audio.device)


def get_scene_embeddings(audio: Tensor, model: Musicnn) -> Tensor:
    """One embedding per sound, ``(n_sounds, 1506)``: the mean of its timestamp embeddings."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return embeddings.mean(dim=1)
