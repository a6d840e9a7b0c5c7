"""Self-contained checkpoints: weights, model config, feature configs, labels and normalisation statistics.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python containers, so it loads with
``torch.load(..., weights_only=True)``. ``predict`` needs nothing else (except YAMNet weights for models
on YAMNet features).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from musicgenre import __version__
from musicgenre.errors import CheckpointError
from musicgenre.fileio import atomic_path

#: Bumped whenever the layout changes incompatibly.
FORMAT_VERSION = 1
FORMAT_NAME = "musicgenre-checkpoint"


@dataclass
class Checkpoint:
    """Everything needed to rebuild a trained model and feed it.

    Attributes:
        model_name: registry name (``cnn2d``, ``bilstm``, ...).
        model_options: keyword options passed to the builder.
        inputs: ``{input_name: FeatureConfig.to_dict()}`` in the model's input order.
        input_shapes: ``{input_name: shape}`` of one segment's feature.
        segment: ``SegmentConfig.to_dict()``.
        labels: genre names; class index i is ``labels[i]``.
        normalisation: ``{input_name: {"mean": tensor, "std": tensor}}`` from the training split only.
        state_dict: model weights.
        history: per-epoch metrics (lists keyed by metric name).
        meta: free-form facts (split protocol, seed, best epoch, dataset, ...).
    """

    model_name: str
    model_options: dict[str, Any]
    inputs: dict[str, dict[str, Any]]
    input_shapes: dict[str, tuple[int, ...]]
    segment: dict[str, Any]
    labels: list[str]
    normalisation: dict[str, dict[str, torch.Tensor]]
    state_dict: dict[str, torch.Tensor]
    history: dict[str, list[float]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The plain-container form written to disk."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "musicgenre_version": __version__,
            "model_name": self.model_name,
            "model_options": self.model_options,
            "inputs": self.inputs,
            "input_shapes": {k: list(v) for k, v in self.input_shapes.items()},
            "segment": self.segment,
            "labels": list(self.labels),
            "normalisation": self.normalisation,
            "state_dict": self.state_dict,
            "history": self.history,
            "meta": self.meta,
        }


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> Path:
    """Write ``ckpt`` atomically (temporary file, then rename), so an interruption never leaves half a file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(ckpt.to_payload(), tmp)
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint safely (``weights_only=True``); clear errors for missing, corrupt or foreign files."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.is_dir():
        candidate = path / "model.ckpt"
        if not candidate.exists():
            raise CheckpointError(f"{path}: is a directory without a model.ckpt")
        path = candidate
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path}: not a readable musicgenre checkpoint ({type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: not a musicgenre checkpoint")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version} (written by musicgenre "
            f"{payload.get('musicgenre_version', '?')}) is not supported by musicgenre {__version__}, "
            f"which reads version {FORMAT_VERSION}; retrain the model or use a matching musicgenre version"
        )
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise CheckpointError(
            f"{path}: checkpoint is missing {'key' if len(missing) == 1 else 'keys'} "
            f"{', '.join(repr(k) for k in missing)} (damaged, or not written by musicgenre's save_checkpoint)"
        )
    try:
        return _from_payload(payload)
    except (AttributeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: checkpoint has an entry of the wrong type ({exc})") from None


#: The payload keys :func:`load_checkpoint` needs (``history`` and ``meta`` are optional).
REQUIRED_KEYS = (
    "model_name",
    "model_options",
    "inputs",
    "input_shapes",
    "segment",
    "labels",
    "normalisation",
    "state_dict",
)


def _from_payload(payload: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        model_name=payload["model_name"],
        model_options=payload["model_options"],
        inputs=payload["inputs"],
        input_shapes={k: tuple(v) for k, v in payload["input_shapes"].items()},
        segment=payload["segment"],
        labels=list(payload["labels"]),
        normalisation=payload["normalisation"],
        state_dict=payload["state_dict"],
        history=payload.get("history", {}),
        meta=payload.get("meta", {}),
    )
