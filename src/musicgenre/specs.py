"""Option groups of a run, as values: what protocol, how to train, and where and how to run.

The CLI builds them once from its options (each option declared once, in :mod:`musicgenre.cli.common`);
``experiment``, ``study`` and the trainer take them instead of long lists of keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musicgenre.pretrained import PretrainedBundle

#: Held-out evaluation drops segments that are more than half padding (see ``experiment.evaluate_run``).
EVAL_MAX_PADDING = 0.5


@dataclass(frozen=True)
class ProtocolSpec:
    """How a dataset is split: ``name`` is one of :data:`musicgenre.splits.PROTOCOLS`.

    ``k`` folds for ``kfold`` and ``artist`` (``fold`` runs only that one, 1-based); ``split_dir`` holds
    the lists of ``fault-filtered`` (default ``<shared>/data/gtzan-splits``); ``artists`` is the
    track-to-artist file of ``artist`` (default: GTZAN's index, see
    :func:`musicgenre.datasets.artists.default_artists_path`).
    """

    name: str = "track"
    seed: int = 0
    k: int = 5
    fold: int | None = None
    split_dir: Path | None = None
    artists: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.name,
            "seed": self.seed,
            "k": self.k,
            "fold": self.fold,
            "split_dir": str(self.split_dir) if self.split_dir else None,
            "artists": str(self.artists) if self.artists else None,
        }


@dataclass(frozen=True)
class TrainSpec:
    """Overrides of a model's default training config: epochs, seed, and optionally batch size and lr;
    ``zeroshot_map``: a ``genre,class`` CSV for the zero-shot and anchored models (default: GTZAN's ten
    genres); ``augment``: a :class:`~musicgenre.training.augment.Augment` for gradient-trained models
    (the one-step fits take none); ``precision``: the CPU training precision of gradient-trained models
    (``float32``, ``bfloat16``, ``auto``; see :func:`~musicgenre.device.resolve_precision`)."""

    epochs: int = 30
    seed: int = 0
    batch_size: int | None = None
    lr: float | None = None
    zeroshot_map: Path | None = None
    augment: Any = None
    precision: str = "float32"

    def model_options_for(self, model_name: str) -> dict[str, Any]:
        """Builder options that come from the command line (only the zero-shot mapping so far)."""
        if self.zeroshot_map is None:
            return {}
        from musicgenre.models import get_model_spec

        return (
            {"mapping_file": str(self.zeroshot_map)}
            if get_model_spec(model_name).trainer in ("zeroshot", "anchored", "finetune")
            else {}
        )

    def config_for(self, model_name: str) -> Any:
        """The :class:`~musicgenre.training.trainer.TrainConfig` of ``model_name`` with these overrides."""
        from musicgenre.training.trainer import default_train_config

        cfg = default_train_config(model_name)
        cfg.epochs, cfg.seed = self.epochs, self.seed
        if self.batch_size is not None:
            cfg.batch_size = self.batch_size
        if self.lr is not None:
            cfg.lr = self.lr
        if self.augment is not None:
            from musicgenre.models import get_model_spec

            if get_model_spec(model_name).trainer in ("torch", "finetune"):
                cfg.augment = self.augment
        if self.precision != "float32":
            from musicgenre.device import resolve_precision
            from musicgenre.models import get_model_spec

            if get_model_spec(model_name).trainer == "torch":
                cfg.precision = resolve_precision(self.precision, model_name)
        return cfg


@dataclass(frozen=True)
class Runtime:
    """Where and how work runs: the feature cache root (``None``: the default), worker processes for
    feature extraction, whether to show progress, and the pretrained weights chosen at the edge (one
    resolved bundle per model family, e.g. ``--yamnet-weights``; families without one use their default),
    and whether a run folder holding another run is replaced (``--overwrite``) rather than refused.

    ``device`` (``--device``: ``auto``, ``cpu``, ``cuda``, ``mps``) is where feature extraction, training,
    evaluation and prediction run; ``auto`` picks CUDA, then MPS, then the CPU (see :mod:`musicgenre.device`).
    The CLI enters it with :func:`musicgenre.device.use_device` for the whole command; it is in no run
    fingerprint or feature-cache key."""

    cache_dir: Path | None = None
    workers: int = 2
    progress: bool = True
    weights: tuple[PretrainedBundle, ...] = ()
    overwrite: bool = False
    device: str = "auto"


@dataclass(frozen=True)
class HeldOut:
    """A dataset every best checkpoint is also scored on (evaluation only), and its padding limit:
    segments with a larger padded fraction are dropped there (``None`` keeps the checkpoint's rule)."""

    data_dir: Path
    max_padding: float | None = EVAL_MAX_PADDING
