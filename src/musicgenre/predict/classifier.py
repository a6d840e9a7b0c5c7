"""``GenreClassifier``: a trained checkpoint that labels audio files and arrays of any length.

The pipeline for one recording: stream-decode in blocks (:mod:`~musicgenre.audio.stream`), cut sliding
windows of the model's segment length (:mod:`~musicgenre.predict.windows`), compute the checkpoint's
features for a batch of windows (the feature registry, exactly as in training), apply the checkpoint's
normalisation statistics (the training code's batch loader), run the model, softmax, and aggregate the window
probabilities into one distribution (:mod:`~musicgenre.predict.aggregate`). Memory is bounded by the block
and batch sizes, not by the length of the recording.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicgenre.audio.segment import SegmentConfig
from musicgenre.audio.stream import DEFAULT_BLOCK_SECONDS, AudioStream, array_blocks, array_channels
from musicgenre.checkpoint import Checkpoint, load_checkpoint
from musicgenre.device import autocast, device_or_current, to_device, use_device
from musicgenre.errors import AudioError, CheckpointError, MusicGenreError
from musicgenre.predict.aggregate import METHODS, aggregate, confidence
from musicgenre.predict.results import PredictionFailure, PredictionResult
from musicgenre.predict.windows import SignalStats, sliding_windows
from musicgenre.prefetch import prefetch
from musicgenre.pretrained import PretrainedBundle
from musicgenre.training.data import load_batch
from musicgenre.training.inference import model_from_checkpoint

#: Default RMS level (dBFS) below which a window, or a whole file, counts as silent (-80 dBFS: inaudible).
SILENCE_DBFS = -80.0
#: Default top probability below which a result is flagged ``low_confidence`` (a checkpoint may carry its
#: own in ``meta["low_confidence"]``).
LOW_CONFIDENCE = 0.35


class GenreClassifier:
    """A trained genre model with its feature pipeline, ready to label audio.

    Build it with :meth:`from_checkpoint` (or ``musicgenre.load``). Options:

    Args:
        checkpoint: a loaded :class:`~musicgenre.checkpoint.Checkpoint`.
        model_id: identifies the model in results (``from_checkpoint`` uses
            ``<model>:<inputs>@<first 12 hex digits of the checkpoint's sha256>``).
        hop_seconds: window hop; None = the window length (back-to-back windows, as in training).
        aggregate: ``"mean"`` of window probabilities or majority ``"vote"``.
        batch_size: windows per model call (memory: ``batch_size`` x window x features).
        block_seconds: seconds of audio decoded at a time.
        low_confidence: results whose top probability is below this get the ``low_confidence`` flag.
        silence_dbfs: RMS level below which windows are left out of the aggregate and a whole file is
            flagged ``silent``.
        yamnet_weights: YAMNet weights (a file or a :class:`~musicgenre.pretrained.PretrainedBundle`) for
            models on YAMNet features, else found as usual (``$MUSICGENRE_YAMNET_WEIGHTS``, the weights
            cache, the shared TFLite file, a download). They must be the weights the model was trained on
            (the checkpoint keeps their identity, not their path), else
            :class:`~musicgenre.errors.WeightsMismatchError`. Each classifier keeps its own.
        device: where the features and the model run (``auto``, ``cpu``, ``cuda``, ``mps``; ``None``:
            :func:`~musicgenre.device.current_device`, the CPU unless ``--device`` set it). Probabilities
            come back as CPU NumPy either way. On CUDA the model runs under autocast.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        model_id: str | None = None,
        hop_seconds: float | None = None,
        aggregate: str = "mean",
        batch_size: int = 32,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
        low_confidence: float = LOW_CONFIDENCE,
        silence_dbfs: float = SILENCE_DBFS,
        yamnet_weights: str | Path | PretrainedBundle | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        from musicgenre.features.pretrained import with_weights
        from musicgenre.features.registry import config_from_dict
        from musicgenre.yamnet.weights import resolve_weights

        if aggregate not in METHODS:
            raise ValueError(f"unknown aggregation {aggregate!r}; choose from {', '.join(METHODS)}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        bundle = resolve_weights(yamnet_weights) if yamnet_weights is not None else None
        self.checkpoint = checkpoint
        #: The file it was loaded from (set by :meth:`from_checkpoint`).
        self.checkpoint_path: Path | None = None
        self.labels: tuple[str, ...] = tuple(checkpoint.labels)
        try:
            self.segment = SegmentConfig.from_dict(checkpoint.segment)
            configs = {name: config_from_dict(d) for name, d in checkpoint.inputs.items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint's segment or feature settings are not usable: {exc}") from None
        #: The checkpoint's feature configs, with the weights of pretrained features bound (resolved here).
        self.feature_configs = with_weights(configs, bundle)
        for name, cfg in self.feature_configs.items():
            expected = tuple(checkpoint.input_shapes.get(name, ()))
            got = tuple(cfg.shape(self.segment))
            if expected != got:
                raise CheckpointError(
                    f"checkpoint input {name!r} has shape {expected}, but its feature settings give {got}"
                )
        #: Where the features and the model run.
        self.device = device_or_current(device)
        self.model = model_from_checkpoint(checkpoint).to(self.device)
        self.model_id = model_id or f"{checkpoint.model_name}:{'+'.join(checkpoint.inputs)}"
        self.sample_rate = self.segment.sample_rate
        self.window_samples = self.segment.segment_samples
        self.hop_seconds = hop_seconds
        self.aggregate = aggregate
        self.batch_size = int(batch_size)
        self.block_seconds = float(block_seconds)
        self.low_confidence = float(low_confidence)
        self.silence_dbfs = float(silence_dbfs)

    # ------------------------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(cls, path: str | Path, **options: Any) -> GenreClassifier:
        """Load ``path`` (a ``model.ckpt`` or a run folder holding one) safely and build the classifier.

        ``options`` are the keyword arguments of the constructor; ``low_confidence`` defaults to the
        checkpoint's ``meta["low_confidence"]`` when it has one (the bundled model's, chosen on held-out
        data), else :data:`LOW_CONFIDENCE`. Raises
        :class:`~musicgenre.errors.CheckpointError` for a missing, corrupt, foreign or incompatible file.
        """
        path = Path(path)
        file = path / "model.ckpt" if path.is_dir() else path
        ckpt = load_checkpoint(path)
        if "low_confidence" not in options and isinstance(ckpt.meta.get("low_confidence"), int | float):
            options["low_confidence"] = float(ckpt.meta["low_confidence"])
        if "model_id" not in options:
            options["model_id"] = f"{ckpt.model_name}:{'+'.join(ckpt.inputs)}@{_sha256(file)[:12]}"
        clf = cls(ckpt, **options)
        clf.checkpoint_path = file
        return clf

    # ------------------------------------------------------------------------------------ properties
    @property
    def window_seconds(self) -> float:
        """Length of one window (the checkpoint's segment length)."""
        return self.window_samples / self.sample_rate

    def hop_samples(self, hop_seconds: float | None = None) -> int:
        """The hop in samples at the model's rate (``hop_seconds`` overrides the classifier's)."""
        hop = self.hop_seconds if hop_seconds is None else hop_seconds
        if hop is None:
            return self.window_samples
        if not hop > 0:
            raise ValueError(f"hop must be positive, got {hop} s")
        return max(1, int(round(hop * self.sample_rate)))

    def __repr__(self) -> str:
        return (
            f"GenreClassifier({self.model_id!r}, labels={list(self.labels)}, "
            f"window={self.window_seconds:g} s @ {self.sample_rate} Hz)"
        )

    # ------------------------------------------------------------------------------------ prediction
    def predict(
        self, path: str | Path, *, hop_seconds: float | None = None, aggregate: str | None = None
    ) -> PredictionResult:
        """Label one audio file (any supported format, rate, channel count and length).

        Raises :class:`~musicgenre.errors.AudioError` (``"<path>: <problem>"``) for a file that cannot be
        used: missing, empty, unsupported or unrecognised, corrupt or truncated, NaN/inf samples.
        """
        start = time.perf_counter()
        with (
            AudioStream(path, self.sample_rate, block_seconds=self.block_seconds) as stream,
            closing(prefetch(stream.blocks())) as blocks,  # the next block decodes while the model runs
        ):
            result = self._classify(
                blocks,
                path=str(path),
                hop_seconds=hop_seconds,
                method=aggregate,
                source_rate=stream.info.sample_rate,
                channels=stream.info.channels,
                start=start,
            )
        return result

    def predict_array(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        hop_seconds: float | None = None,
        aggregate: str | None = None,
    ) -> PredictionResult:
        """Label an in-memory signal: 1-D, or ``(frames, channels)``, at any ``sample_rate``.

        ``samples`` goes through ``np.asarray``. Float samples are expected in [-1, 1]. Integer samples
        must come as a NumPy integer array and are scaled by the range of its dtype (int16 by 32768, ...);
        a plain list of Python ints is refused, since its scale is unknown (as int64 it would be read as
        silence). ``sample_rate`` must be a positive whole number of Hz (``22050.7`` or ``0.5`` is refused,
        never truncated). Raises :class:`~musicgenre.errors.AudioError` for an empty, mis-shaped (not
        ``(n,)`` or ``(n, channels)``), non-numeric or non-finite signal, and ``ValueError`` for a bad
        ``sample_rate``.
        """
        start = time.perf_counter()
        channels = array_channels(samples)
        blocks = array_blocks(samples, sample_rate, self.sample_rate, block_seconds=self.block_seconds)
        return self._classify(
            blocks,
            path=None,
            hop_seconds=hop_seconds,
            method=aggregate,
            source_rate=int(sample_rate),
            channels=channels,
            start=start,
        )

    def predict_many(
        self,
        paths: Iterable[str | Path],
        *,
        hop_seconds: float | None = None,
        aggregate: str | None = None,
        unexpected: str = "collect",
    ) -> Iterator[PredictionResult | PredictionFailure]:
        """Label many files, one result per file in order; a bad file gives a :class:`PredictionFailure`.

        Expected problems (:class:`~musicgenre.errors.MusicGenreError`, e.g. unreadable audio) always
        become failures. Other exceptions (bugs) become failures too with ``unexpected="collect"``, or
        propagate with ``unexpected="raise"`` (the CLI's ``--debug``).
        """
        for p in paths:
            try:
                yield self.predict(p, hop_seconds=hop_seconds, aggregate=aggregate)
            except AudioError as exc:
                yield PredictionFailure(str(p), exc.problem, self.model_id)
            except MusicGenreError as exc:
                yield PredictionFailure(str(p), str(exc), self.model_id)
            except Exception as exc:
                if unexpected == "raise":
                    raise
                yield PredictionFailure(str(p), f"{type(exc).__name__}: {exc}", self.model_id)

    def window_probabilities(self, windows: np.ndarray) -> np.ndarray:
        """Model probabilities ``(n, n_labels)`` for segments ``(n, window_samples)`` at the model's rate."""
        from musicgenre.features.registry import extract_many

        windows = np.ascontiguousarray(windows, dtype=np.float32)
        with use_device(self.device):
            feats = extract_many(list(self.feature_configs.values()), windows, self.sample_rate)
        by_name = {name: feats[cfg.key()] for name, cfg in self.feature_configs.items()}
        for name, values in by_name.items():
            if not np.isfinite(values).all():
                raise MusicGenreError(f"feature {name} is not finite (NaN or infinite) for this audio")
        # The training code's batch loader: the same float32 conversion and normalisation as in training.
        inputs, _ = load_batch(
            by_name, np.arange(windows.shape[0]), self.checkpoint.normalisation, sort=False
        )
        with torch.inference_mode():
            with autocast(self.device):
                logits = self.model(to_device(inputs, self.device))
            probs = torch.softmax(logits.float(), dim=-1).cpu()
        probs = probs.numpy().astype(np.float32, copy=False)
        if not np.isfinite(probs).all():
            where = f" {self.checkpoint_path}" if self.checkpoint_path else ""
            raise MusicGenreError(
                f"the model gave non-finite probabilities (NaN or infinite): is the checkpoint{where} damaged?"
            )
        return probs

    # ------------------------------------------------------------------------------------ internals
    def _classify(
        self,
        blocks: Iterable[np.ndarray],
        *,
        path: str | None,
        hop_seconds: float | None,
        method: str | None,
        source_rate: int,
        channels: int,
        start: float,
    ) -> PredictionResult:
        method = method or self.aggregate
        if method not in METHODS:
            raise ValueError(f"unknown aggregation {method!r}; choose from {', '.join(METHODS)}")
        hop = self.hop_samples(hop_seconds)
        stats = SignalStats()
        probs: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        rms: list[np.ndarray] = []
        real: list[np.ndarray] = []
        for batch in sliding_windows(
            blocks, self.window_samples, hop, batch_size=self.batch_size, stats=stats
        ):
            probs.append(self.window_probabilities(batch.samples))
            starts.append(batch.starts)
            real.append(batch.real)
            energy = np.einsum("ij,ij->i", batch.samples, batch.samples, dtype=np.float64)
            rms.append(np.sqrt(energy / np.maximum(batch.real, 1)))
        if not probs:
            raise AudioError(path or "<array>", "contains no audio samples")
        window_probs = np.concatenate(probs)
        window_starts = np.concatenate(starts)
        window_real = np.concatenate(real)
        threshold = 10.0 ** (self.silence_dbfs / 20.0)
        window_silent = np.concatenate(rms) < threshold
        silent = stats.rms < threshold
        used = ~window_silent if (~window_silent).any() else np.ones_like(window_silent)
        flags: list[str] = []
        if window_real[0] < self.window_samples and len(window_real) == 1:
            flags.append("padded")
        n_labels = len(self.labels)
        if silent:
            dist = np.full(n_labels, 1.0 / n_labels)
            top_genre: str | None = None
            conf_top, margin, entropy = 0.0, 0.0, 1.0
            flags.append("silent")
        else:
            dist = aggregate(window_probs, method, mask=used)
            conf = confidence(dist)
            top_genre = self.labels[int(np.argmax(dist))]
            conf_top, margin, entropy = conf.top, conf.margin, conf.entropy
            if conf_top < self.low_confidence:
                flags.append("low_confidence")
        return PredictionResult(
            path=path,
            top_genre=top_genre,
            confidence=float(conf_top),
            probabilities={g: float(p) for g, p in zip(self.labels, dist, strict=True)},
            margin=float(margin),
            entropy=float(entropy),
            duration=stats.n_samples / self.sample_rate,
            n_windows=int(window_probs.shape[0]),
            windows_used=int(used.sum()),
            window_seconds=self.window_seconds,
            hop_seconds=hop / self.sample_rate,
            window_times=window_starts / self.sample_rate,
            window_probabilities=window_probs,
            window_silent=window_silent,
            labels=self.labels,
            aggregate=method,
            flags=tuple(flags),
            model_id=self.model_id,
            sample_rate=int(source_rate),
            channels=int(channels),
            seconds=time.perf_counter() - start,
        )


# ---------------------------------------------------------------------------------------------- helpers
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
