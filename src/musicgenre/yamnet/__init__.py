"""YAMNet (Google's AudioSet classifier) in PyTorch, verified against Google's model; no TensorFlow.

Public API:

- :func:`get_model` (process-wide cached) / :func:`load_model` (new instance): a :class:`YAMNet` module.
  ``model.infer(waveforms)`` -> ``YAMNetOutput(scores (b, p, 521), embeddings (b, p, 1024), log_mel (b, f, 64))``
  for 16 kHz mono ``(b, n)`` float32 waveforms.
- :data:`YAMNET` / :func:`resolve_weights` / :func:`download_weights`: where the weights come from (see
  :mod:`musicgenre.yamnet.weights`): ``--weights``/argument, ``$MUSICGENRE_YAMNET_WEIGHTS``, cached
  ``yamnet.h5``, ``<shared>/models/yamnet/yamnet_int8.tflite``, download of Google's ``yamnet.h5``.
  Resolving gives a :class:`~musicgenre.pretrained.PretrainedBundle`: ``resolve_weights().get_model()``.
- :mod:`musicgenre.yamnet.hear`: the HEAR API (``load_model``, ``get_timestamp_embeddings``,
  ``get_scene_embeddings``).
- :mod:`musicgenre.yamnet.frontend`: the padding rule and log-mel frontend as pure functions and modules.
- Features ``yamnet_embedding`` and ``yamnet_logmel`` are registered by :mod:`musicgenre.features.yamnet`.
"""

from musicgenre.pretrained import PretrainedBundle
from musicgenre.yamnet.model import YAMNet, YAMNetOutput, get_model, load_model
from musicgenre.yamnet.tagging import load_class_names
from musicgenre.yamnet.weights import ENV_VAR, YAMNET, download_weights, load_weights, resolve_weights

__all__ = [
    "ENV_VAR",
    "YAMNET",
    "PretrainedBundle",
    "YAMNet",
    "YAMNetOutput",
    "download_weights",
    "get_model",
    "load_class_names",
    "load_model",
    "load_weights",
    "resolve_weights",
]
