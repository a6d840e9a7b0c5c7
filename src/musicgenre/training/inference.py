"""Batched inference over feature arrays: rebuild a checkpoint's model, apply its normalisation, predict.

Used by validation during training, by :func:`musicgenre.evaluation.metrics.evaluate` and by anything
that scores cached features. (Prediction from audio files lives in :mod:`musicgenre.predict`.)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from musicgenre.checkpoint import Checkpoint, load_checkpoint
from musicgenre.device import autocast, current_device, resolve_device, to_device
from musicgenre.errors import CheckpointError
from musicgenre.training.data import iter_batches


def model_from_checkpoint(ckpt: Checkpoint) -> nn.Module:
    """Rebuild ``ckpt``'s model with its weights, in eval mode."""
    from musicgenre.models.registry import build_model

    try:
        model = build_model(ckpt.model_name, ckpt.input_shapes, len(ckpt.labels), **ckpt.model_options)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot rebuild the checkpoint's model {ckpt.model_name!r}: {exc}") from None
    try:
        model.load_state_dict(ckpt.state_dict)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise CheckpointError(
            f"the checkpoint's weights do not fit model {ckpt.model_name!r}: {detail}"
        ) from None
    return model.eval()


def resolve_model(
    checkpoint_or_model: Checkpoint | nn.Module | str | Path,
    normalisation: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[nn.Module, Mapping[str, Mapping[str, Any]] | None, list[str] | None, dict | None]:
    """``(model, normalisation, input names, input shapes)`` for a checkpoint, a path or a bare module.

    A bare module comes with the ``normalisation`` given (None: inputs are used as they are) and no
    declared inputs (every array passed is fed to it).
    """
    if isinstance(checkpoint_or_model, str | Path):
        checkpoint_or_model = load_checkpoint(checkpoint_or_model)
    if isinstance(checkpoint_or_model, Checkpoint):
        ckpt = checkpoint_or_model
        return model_from_checkpoint(ckpt), ckpt.normalisation, list(ckpt.inputs), dict(ckpt.input_shapes)
    if isinstance(checkpoint_or_model, nn.Module):
        return checkpoint_or_model, normalisation, None, None
    raise TypeError(
        f"expected a Checkpoint, a checkpoint path or an nn.Module, got {type(checkpoint_or_model)}"
    )


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    inputs: Mapping[str, np.ndarray],
    rows: np.ndarray,
    normalisation: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    batch_size: int = 256,
    progress: bool = False,
    desc: str = "predict",
    device: str | torch.device | None = None,
    precision: str = "float32",
) -> np.ndarray:
    """Logits ``(len(rows), n_classes)`` of ``model`` (put in eval mode) for ``rows``, in their order.

    ``device``: where the batches go (``None``: where ``model``'s weights are; a CPU model stays on the
    CPU). The model is moved there; on CUDA the forward pass runs under autocast, on the CPU only when
    ``precision`` is ``"bfloat16"`` (validation during a bfloat16 training run). The logits come back
    as float32 NumPy on the CPU.
    """
    rows = np.asarray(rows, dtype=np.int64)
    target = _model_device(model) if device is None else resolve_device(device)
    model.to(target)
    model.eval()
    batches = [rows[i : i + batch_size] for i in range(0, len(rows), batch_size)]
    out: list[np.ndarray] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(rows), desc=desc, unit="seg", leave=False, disable=not progress, file=sys.stderr)
    for x, _ in iter_batches(inputs, batches, normalisation, sort=False):
        with autocast(target, precision):
            logits = model(to_device(x, target))
        out.append(logits.float().cpu().numpy())
        bar.update(len(next(iter(x.values()))))
    bar.close()
    if not out:
        n = _n_classes(model)
        return np.zeros((0, n), dtype=np.float32)
    return np.concatenate(out).astype(np.float32, copy=False)


def _model_device(model: nn.Module) -> torch.device:
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


def _n_classes(model: nn.Module) -> int:
    last = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return int(last[-1].out_features) if last else 0


def predict_proba(
    checkpoint_or_model: Checkpoint | nn.Module | str | Path,
    inputs: Mapping[str, np.ndarray],
    rows: np.ndarray | None = None,
    *,
    batch_size: int = 256,
    progress: bool = False,
    normalisation: Mapping[str, Mapping[str, Any]] | None = None,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Class probabilities ``(len(rows), n_classes)`` (float32) for ``rows`` (all rows when None).

    ``checkpoint_or_model``: a :class:`~musicgenre.checkpoint.Checkpoint`, a path to one (or to a run
    folder with ``model.ckpt``), or a bare ``nn.Module``. A checkpoint's own normalisation is applied and
    only its inputs are read (extra arrays are ignored; missing ones or wrong shapes raise ``ValueError``).
    For a bare module, pass ``normalisation`` if its inputs need it. ``device``: see
    :func:`predict_logits` (``None`` for a checkpoint: :func:`~musicgenre.device.current_device`).
    """
    model, norm, names, shapes = resolve_model(checkpoint_or_model, normalisation)
    if names is not None:
        missing = [n for n in names if n not in inputs]
        if missing:
            raise ValueError(f"the model needs inputs {names}; missing {missing}")
        for n in names:
            got = tuple(inputs[n].shape[1:])
            if shapes is not None and tuple(shapes[n]) != got:
                raise ValueError(
                    f"input {n!r}: the model expects items of shape {tuple(shapes[n])}, got {got}"
                )
        inputs = {n: inputs[n] for n in names}
    if rows is None:
        rows = np.arange(next(iter(inputs.values())).shape[0])
    if device is None and names is not None:
        device = current_device()
    logits = predict_logits(
        model, inputs, rows, norm, batch_size=batch_size, progress=progress, device=device
    )
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()
