"""Re-runs into an existing run folder: reuse a finished run only when it is the same run.

A run folder of ``train`` or of a ``study`` row holds ``run-fingerprint.json``: everything that decides the
run's numbers (the dataset and its tracks, the model, the inputs' feature configs, the segments, the
protocol and its split, and the training config: epochs, seed, batch size, learning rate...). It is
written before training starts, so an interrupted run is identified too.

* Same fingerprint and ``summary.json`` present: the finished run is returned as it is (no retraining).
* Same fingerprint, unfinished: training resumes from its last finished epoch.
* Another fingerprint: :class:`RunFolderConflict` names what differs; ``--overwrite`` (``overwrite=True``)
  removes the old run's state and results first.

Folders written before fingerprints existed have none; the trainer's own fingerprint then decides.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre import splits as splits_mod
from musicgenre.errors import MusicGenreError
from musicgenre.fileio import dumps, read_json, write_json

FINGERPRINT_NAME = "run-fingerprint.json"
SUMMARY_NAME = "summary.json"

#: Files of a run that ``overwrite`` removes: its identity, its results and its resume state (the rest is
#: rewritten by the new run).
RUN_FILES = (FINGERPRINT_NAME, SUMMARY_NAME, "result.json", "state.pt", "model.ckpt")

#: TrainConfig fields that do not change a run's numbers.
_NOT_IN_FINGERPRINT = ("num_threads", "eval_batch_size")


class RunFolderConflict(MusicGenreError):
    """A run folder holds another run than the one asked for."""


def _digest(value: Any) -> str:
    return hashlib.sha1(dumps(value, indent=None, sort_keys=True).encode()).hexdigest()[:16]


def training_fingerprint(config: Any) -> dict[str, Any]:
    """The part of a run's identity that a :class:`~musicgenre.training.trainer.TrainConfig` gives.

    A run without augmentation keeps the fingerprint it had before augmentation existed, and a float32
    run the one it had before ``precision`` existed (``auto`` is resolved for the run's model before this).
    """
    training = config_identity(config)
    if not config.augment.active:
        training.pop("augment", None)
    return training


def config_identity(config: Any) -> dict[str, Any]:
    """A ``TrainConfig``'s values that name a run: without the settings that change no number
    (:data:`_NOT_IN_FINGERPRINT`), and without ``precision`` when it is float32 (runs made before the setting
    existed keep their identity). Shared by :func:`training_fingerprint` and the run folder's resume identity."""
    cfg = {k: v for k, v in config.to_dict().items() if k not in _NOT_IN_FINGERPRINT}
    if cfg.get("precision", "float32") == "float32":
        cfg.pop("precision", None)
    return cfg


def run_fingerprint(
    data: Any,
    model_name: str,
    input_names: list[str] | tuple[str, ...],
    split: Any,
    config: Any,
    model_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The identity of one run as plain JSON values, flat so that a difference can be named.

    ``data`` is a :class:`~musicgenre.experiment.PreparedData`, ``split`` a :class:`~musicgenre.splits.Split`,
    ``config`` the :class:`~musicgenre.training.trainer.TrainConfig`.
    """
    tracks = sorted(set(zip(data.track_ids.tolist(), data.genres.tolist(), strict=True)))
    sides = splits_mod.split_to_dict(split, data.track_ids)
    training = training_fingerprint(config)
    fp = {
        "dataset": str(Path(data.root).resolve()),
        "dataset_tracks": f"{len(tracks)} tracks, {data.n_rows} segments, #{_digest(tracks)}",
        "model": model_name,
        "inputs": list(input_names),
        "features": {n: data.feature_configs[n].key() for n in input_names},
        "segment": data.segment.to_dict(),
        "protocol": split.protocol,
        "split": split.name,
        "split_tracks": _digest([sides["tracks"], sides["segments"]]),
        "labels": _digest(np.asarray(data.labels).tolist()),
        **training,
        **({"model_options": model_options} if model_options else {}),
    }
    return json.loads(dumps(fp))  # tuples become lists, as when read back


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every value that differs (keys of either side)."""
    out = []
    for key in list(new) + [k for k in old if k not in new]:
        if old.get(key) != new.get(key):
            out.append(f"{key}: {_short(old.get(key, '(none)'))} -> {_short(new.get(key, '(none)'))}")
    return out


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _read(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None (with a warning naming the file) when it cannot be read."""
    try:
        value = read_json(path)
    except (OSError, ValueError) as exc:
        print(f"warning: {path}: cannot read it ({exc}); ignoring it", file=sys.stderr)
        return None
    return value if isinstance(value, dict) else None


def check_run_folder(out_dir: Path, fingerprint: dict[str, Any], *, overwrite: bool = False) -> None:
    """Raise :class:`RunFolderConflict` when ``out_dir`` holds a run with another fingerprint.

    With ``overwrite``, nothing is raised (:func:`claim_run_folder` then clears the folder).
    """
    path = Path(out_dir) / FINGERPRINT_NAME
    if overwrite or not path.exists():
        return
    old = _read(path)
    if old is None:
        raise RunFolderConflict(
            f"{out_dir}: {FINGERPRINT_NAME} is damaged, so it cannot be told which run this folder holds; "
            "use --overwrite to start the run over, or another --out"
        )
    diff = differences(old, fingerprint)
    if diff:
        raise RunFolderConflict(
            f"{out_dir} holds another run ({'; '.join(diff)}); use --overwrite to replace it, "
            "or another --out"
        )


def claim_run_folder(out_dir: Path, fingerprint: dict[str, Any], *, overwrite: bool = False) -> dict | None:
    """Make ``out_dir`` this run's folder; returns the finished run's ``summary.json`` when it can be reused.

    Raises :class:`RunFolderConflict` for another run (unless ``overwrite``, which removes that run's files
    first). A damaged ``summary.json`` is reported and the run's results are computed again.
    """
    out_dir = Path(out_dir)
    check_run_folder(out_dir, fingerprint, overwrite=overwrite)
    if overwrite:
        for name in RUN_FILES:
            (out_dir / name).unlink(missing_ok=True)
    if (out_dir / FINGERPRINT_NAME).exists():
        summary = out_dir / SUMMARY_NAME
        return _read(summary) if summary.exists() else None
    if not any((out_dir / name).exists() for name in RUN_FILES):
        write_fingerprint(out_dir, fingerprint)
    # else: a folder of an older version; the trainer's fingerprint decides, and the run writes its own
    # when it has finished.
    return None


def write_fingerprint(out_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Record ``fingerprint`` as the identity of the run in ``out_dir``."""
    write_json(Path(out_dir) / FINGERPRINT_NAME, fingerprint)
