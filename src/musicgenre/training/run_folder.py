"""The run folder of one training run: what is in it, how it is read back, and which run it belongs to.

* ``model.ckpt``: the best epoch's weights as a :class:`~musicgenre.checkpoint.Checkpoint`;
* ``history.json``: the per-epoch history (rewritten after every epoch, so it can be watched);
* ``training_curves.png``: loss and accuracy, train and valid, best epoch marked;
* ``state.pt``: the resume state, rewritten atomically after every epoch, deleted when training ends;
* ``result.json``: written last; its presence means "finished".

Each run has a fingerprint (:meth:`RunIdentity.fingerprint`) of everything that changes its outcome;
``state.pt`` and ``result.json`` carry it, so a folder holding another run is refused rather than mixed.
A ``state.pt`` or ``result.json`` that cannot be read is reported on stderr, naming it, and ignored: the
run starts over. Every file is
written through :mod:`musicgenre.fileio` (atomic).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from musicgenre.checkpoint import Checkpoint, save_checkpoint
from musicgenre.fileio import atomic_path, read_json, write_json
from musicgenre.training.loop import BestEpoch, LoopState
from musicgenre.training.result import TrainingError, TrainResult, json_history

if TYPE_CHECKING:
    from musicgenre.training.trainer import TrainConfig

CHECKPOINT_NAME = "model.ckpt"
HISTORY_NAME = "history.json"
CURVES_NAME = "training_curves.png"
STATE_NAME = "state.pt"
RESULT_NAME = "result.json"


def _hash_array(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a, dtype=np.int64).tobytes()).hexdigest()[:16]


def _error_name(err: BaseException) -> str:
    """``EOFError``, ``struct.error``, ``_pickle.UnpicklingError``: torch's own messages are long and
    suggest ``weights_only=False``, which is the wrong advice for a damaged file."""
    kind = type(err)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


@dataclass
class RunIdentity:
    """Everything that decides a run's outcome; ``inputs`` and ``segment`` in their ``to_dict`` forms,
    ``used_labels`` the labels of the training then validation rows."""

    model_name: str
    model_options: dict[str, Any]
    inputs: dict[str, dict[str, Any]]
    input_shapes: dict[str, tuple[int, ...]]
    segment: dict[str, Any]
    label_names: list[str]
    config: TrainConfig
    n_rows: int
    train_rows: np.ndarray
    valid_rows: np.ndarray
    used_labels: np.ndarray

    def fingerprint(self) -> str:
        """SHA-1 of the identity (the row indices and labels by their own hashes)."""
        from musicgenre.rerun import config_identity

        cfg = config_identity(self.config)
        parts = {
            "model": self.model_name,
            "options": self.model_options,
            "inputs": self.inputs,
            "shapes": {n: list(s) for n, s in self.input_shapes.items()},
            "segment": self.segment,
            "labels": list(self.label_names),
            "config": cfg,
            "n_rows": self.n_rows,
            "train": _hash_array(self.train_rows),
            "valid": _hash_array(self.valid_rows),
            "y": _hash_array(self.used_labels),
        }
        blob = json.dumps(parts, sort_keys=True, default=str).encode()
        return hashlib.sha1(blob).hexdigest()


@dataclass
class ResumeState:
    """What ``state.pt`` holds besides the fingerprint: the loop's progress, the model's and optimiser's
    state dicts after the last finished epoch, and the normalisation statistics."""

    loop: LoopState
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    normalisation: dict[str, dict[str, torch.Tensor]]


class RunFolder:
    """The files of one run in ``path``; ``fingerprint`` is the run's (:meth:`RunIdentity.fingerprint`).

    Reading a finished result back (:meth:`load_result`) needs no fingerprint; resuming and writing do.
    """

    def __init__(self, path: str | Path, fingerprint: str = "") -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.checkpoint_path = self.path / CHECKPOINT_NAME
        self.history_path = self.path / HISTORY_NAME
        self.curves_path = self.path / CURVES_NAME
        self.state_path = self.path / STATE_NAME
        self.result_path = self.path / RESULT_NAME

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def make(self) -> None:
        """Create the folder (and its parents) if needed."""
        self.path.mkdir(parents=True, exist_ok=True)

    # -------------------------------------------------------------------------------------------- result
    def load_result(self) -> TrainResult:
        """The result of the finished run here, whichever it is (raises if it has not finished)."""
        if not self.result_path.exists():
            raise TrainingError(f"{self.path}: no {RESULT_NAME}; the run has not finished")
        d = self._read_result()
        if d is None:
            raise TrainingError(f"{self.result_path}: damaged; train the run again (--overwrite)")
        return TrainResult.from_dict(d, self.path)

    def _read_result(self) -> dict[str, Any] | None:
        """``result.json`` as a dict, or None when it cannot be read (truncated, not JSON, not an object)."""
        try:
            d = read_json(self.result_path)
        except (OSError, ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            return None
        return d if isinstance(d, dict) else None

    def load_finished(self) -> TrainResult | None:
        """This run's result if it has finished here; None if not; raises if another run finished here."""
        if not self.result_path.exists():
            return None
        d = self._read_result()
        if d is None:
            tqdm.write(
                f"warning: {self.result_path}: cannot read this result (damaged); ignoring it and "
                "starting the run over",
                file=sys.stderr,
            )
            return None
        if d.get("fingerprint") != self.fingerprint:
            raise TrainingError(
                f"{self.path} holds a finished run with a different model, config, split or data; "
                "use another output folder or delete this one"
            )
        result = TrainResult.from_dict(d, self.path)
        if not result.checkpoint_path.exists():
            raise TrainingError(
                f"{self.path}: {RESULT_NAME} exists but {result.checkpoint_path.name} is missing"
            )
        return result

    def write_result(self, result: TrainResult) -> None:
        """Write ``result.json`` (with the fingerprint), which marks the run finished; drop the resume state."""
        write_json(self.result_path, {**result.to_dict(), "fingerprint": self.fingerprint}, indent=1)
        self.state_path.unlink(missing_ok=True)

    # -------------------------------------------------------------------------------------------- resume state
    def load_state(self) -> ResumeState | None:
        """The resume state of this run, or None when there is none or it cannot be read.

        An unreadable ``state.pt`` (truncated, overwritten, not a resume state) is reported on stderr and
        ignored, so the run starts over; a readable one of another run is refused (:class:`TrainingError`).
        """
        path = self.state_path
        if not path.exists():
            return None
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types here (UnpicklingError, RuntimeError, EOFError...)
            return self._unreadable(f"torch.load failed: {_error_name(err)}")
        if not isinstance(raw, dict) or "fingerprint" not in raw:
            return self._unreadable("not a resume state")
        if raw["fingerprint"] != self.fingerprint:
            raise TrainingError(
                f"{self.path} holds an unfinished run with a different model, config, split or data; "
                "use another output folder or delete this one"
            )
        try:
            best = raw["best"]
            loop = LoopState(
                epoch=int(raw["epoch"]),
                history={k: list(v) for k, v in raw["history"].items()},
                best=BestEpoch(int(best["epoch"]), float(best["acc"]), float(best["loss"]), best["state"]),
                train_seconds=float(raw["train_seconds"]),
            )
            return ResumeState(loop, raw["model"], raw["optimizer"], raw["normalisation"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            return self._unreadable(f"{_error_name(err)}: {err}")

    def _unreadable(self, why: str) -> None:
        tqdm.write(
            f"warning: {self.state_path}: cannot read this resume state ({why}); "
            "ignoring it and starting the run over from epoch 1",
            file=sys.stderr,
        )
        return None

    def save_state(self, state: ResumeState) -> None:
        """Write ``state.pt`` atomically (a crash while saving keeps the previous one)."""
        loop = state.loop
        best = {
            "epoch": loop.best.epoch,
            "acc": loop.best.acc,
            "loss": loop.best.loss,
            "state": loop.best.state,
        }
        with atomic_path(self.state_path) as tmp:
            torch.save(
                {
                    "fingerprint": self.fingerprint,
                    "epoch": loop.epoch,
                    "model": state.model,
                    "optimizer": state.optimizer,
                    "history": loop.history,
                    "best": best,
                    "train_seconds": loop.train_seconds,
                    "normalisation": state.normalisation,
                },
                tmp,
            )

    # -------------------------------------------------------------------------------------------- outputs
    def write_history(self, history: Mapping[str, list[float]]) -> None:
        """Write ``history.json`` (NaN as null)."""
        write_json(self.history_path, json_history(history), indent=1)

    def write_checkpoint(self, checkpoint: Checkpoint) -> Path:
        """Write ``model.ckpt``; returns its path."""
        return save_checkpoint(checkpoint, self.checkpoint_path)

    def write_curves(self, history: Mapping[str, list[float]], best_epoch: int, title: str) -> Path:
        """Draw ``training_curves.png``; returns its path."""
        from musicgenre.evaluation.figures import plot_training_curves

        return plot_training_curves(history, self.curves_path, best_epoch=best_epoch, title=title)
