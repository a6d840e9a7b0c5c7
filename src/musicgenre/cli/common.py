"""Shared CLI plumbing: one-line errors, common option groups, and lazy registry choices."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from musicgenre.audio.segment import SegmentConfig
from musicgenre.errors import MusicGenreError

CONTEXT_SETTINGS: dict[str, Any] = {
    "show_default": True,
    "help_option_names": ["-h", "--help"],
    "max_content_width": 110,
}


class FriendlyGroup(click.Group):
    """A click group that prints expected errors as one line (exit 2) unless ``--debug`` is given."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader went away (``musicgenre ... | head``): stop quietly, as Unix tools do. Point stdout
            # at /dev/null so that Python's flush at exit does not raise a second time.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted; finished work is kept and a re-run continues from there", err=True)
            sys.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            elif isinstance(exc, MusicGenreError | FileNotFoundError | ValueError | KeyError):
                click.echo(f"error: {_message(exc)}", err=True)
            else:
                click.echo(
                    f"error: {type(exc).__name__}: {_message(exc)} (run with --debug for details)", err=True
                )
            sys.exit(2)


def _message(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return text or type(exc).__name__


def yamnet_weights_option(func: Callable) -> Callable:
    """``--yamnet-weights``: the YAMNet weights file for YAMNet features (``yamnet_weights``)."""
    return click.option(
        "--yamnet-weights",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="YAMNet weights (Google's yamnet.h5 or yamnet_int8.tflite) for YAMNet features; a trained model "
        "is used with the weights it was trained on [default: see README].",
    )(func)


def musicnn_weights_option(func: Callable) -> Callable:
    """``--musicnn-weights``: the extracted musicnn weights folder for musicnn features (``musicnn_weights``)."""
    return click.option(
        "--musicnn-weights",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="musicnn weights folder (holding MSD_musicnn/ and MTT_musicnn/) for musicnn features "
        "[default: $MUSICGENRE_MUSICNN_WEIGHTS, else what `musicgenre download musicnn` fetched].",
    )(func)


def artists_option(func: Callable) -> Callable:
    """``--artists``: the track-to-artist file (``artists``)."""
    return click.option(
        "--artists",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Track-to-artist file for the artist protocol and the seen/unseen-artist split of held-out "
        "scores: GTZAN's index ('name ::: artist ::: title') or a CSV/TSV with track_id and artist columns "
        "[default: <shared>/data/gtzan-metadata/GTZANindex.txt].",
    )(func)


def quiet_option(func: Callable) -> Callable:
    """``--quiet``/``-q``: no progress bars (they are also off when stderr is not a terminal)."""
    return click.option("--quiet", "-q", is_flag=True, help="No progress bars.")(func)


def eval_padding_option(when: str) -> Callable:
    """``--eval-max-padding``: the held-out evaluation's padding limit (see ``experiment.evaluate_run``).

    Not to be confused with ``--max-padding`` (:func:`segment_options`), which filters the segments a
    model is trained and tested on under its own protocol.
    """
    from musicgenre.specs import EVAL_MAX_PADDING

    return click.option(
        "--eval-max-padding",
        type=click.FloatRange(0.0, 1.0, max_open=True),
        default=EVAL_MAX_PADDING,
        show_default=True,
        help=f"{when}, drop segments with more padding than this (short excerpts padded to a clip).",
    )


def clip_seconds_option(func: Callable) -> Callable:
    """``--clip-seconds`` (``clip_seconds``): the part of each file that is used; 0 for all of it."""
    return click.option(
        "--clip-seconds",
        type=float,
        default=30.0,
        help="Cut or pad every clip to this length (the study's 30 s); 0 keeps each clip's own length. "
        "Only this much of a file is decoded.",
    )(func)


def segment_options(func: Callable) -> Callable:
    """``--sample-rate``, ``--clip-seconds``, ``--segment-seconds`` and ``--max-padding``, as a SegmentConfig."""

    @click.option("--sample-rate", type=int, default=16000, help="Resample every clip to this rate (Hz).")
    @clip_seconds_option
    @click.option("--segment-seconds", type=float, default=3.0, help="Length of one model input segment.")
    @click.option(
        "--max-padding",
        type=click.FloatRange(0.0, 1.0, max_open=True),
        default=None,
        help="Drop segments whose padded fraction exceeds this (e.g. 0.5) from training and testing; "
        "default keeps all, as the study.",
    )
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        sample_rate: int,
        clip_seconds: float,
        segment_seconds: float,
        max_padding: float | None,
        **kwargs: Any,
    ) -> Any:
        kwargs["segment"] = SegmentConfig(
            sample_rate=sample_rate,
            clip_seconds=clip_seconds or None,
            segment_seconds=segment_seconds,
            max_padding=max_padding,
        )
        return func(*args, **kwargs)

    return wrapper


def device_option(func: Callable) -> Callable:
    """``--device``: where torch work runs (``device``; see :mod:`musicgenre.device`)."""
    from musicgenre.device import DEVICE_CHOICES

    return click.option(
        "--device",
        type=click.Choice(DEVICE_CHOICES, case_sensitive=False),
        default="auto",
        help="Where feature extraction, training, evaluation and prediction run: auto picks CUDA, then "
        "Apple's MPS, then the CPU. On CUDA, training and inference use mixed precision. Checkpoints and "
        "the feature cache do not depend on it. The GPU paths are untested on hardware so far.",
    )(func)


def runtime_options(func: Callable) -> Callable:
    """``--cache-dir``, ``--workers``, ``--quiet``, ``--yamnet-weights``, ``--musicnn-weights`` and
    ``--device``, as one :class:`~musicgenre.specs.Runtime` (``runtime``); the weights are resolved here,
    once, and the command runs under :func:`musicgenre.device.use_device` (checked here, once)."""

    @click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Feature cache root [default: $MUSICGENRE_CACHE or ~/.cache/musicgenre].",
    )
    @click.option(
        "--workers", type=click.IntRange(1, 64), default=2, help="Processes for feature extraction."
    )
    @quiet_option
    @yamnet_weights_option
    @musicnn_weights_option
    @device_option
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        cache_dir: Path | None,
        workers: int,
        quiet: bool,
        yamnet_weights: Path | None,
        musicnn_weights: Path | None,
        device: str,
        **kwargs: Any,
    ) -> Any:
        from musicgenre.device import use_device
        from musicgenre.specs import Runtime

        weights = ()
        if yamnet_weights is not None:
            from musicgenre.yamnet.weights import resolve_weights

            weights = (resolve_weights(yamnet_weights),)
        if musicnn_weights is not None:
            from musicgenre.musicnn.weights import resolve_weights as resolve_musicnn

            weights = (*weights, resolve_musicnn(musicnn_weights))
        device = device.lower()
        kwargs["runtime"] = Runtime(
            cache_dir=cache_dir, workers=workers, progress=not quiet, weights=weights, device=device
        )
        with use_device(device):
            return func(*args, **kwargs)

    return wrapper


def overwrite_option(func: Callable) -> Callable:
    """``--overwrite``: replace a run in the output folder that differs from this one (else it is refused);
    sets ``runtime.overwrite`` (apply below :func:`runtime_options`)."""

    @click.option(
        "--overwrite",
        is_flag=True,
        help="Replace a run in the output folder made with other data, settings or seed "
        "(by default such a folder is refused; a finished identical run is reused).",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, overwrite: bool, **kwargs: Any) -> Any:
        import dataclasses

        kwargs["runtime"] = dataclasses.replace(kwargs["runtime"], overwrite=overwrite)
        return func(*args, **kwargs)

    return wrapper


def run_options(protocol_flag: str, *, tuning: bool) -> Callable:
    """The protocol and training options of ``train`` and ``study``, as ``protocol`` (ProtocolSpec) and
    ``train`` (TrainSpec). ``protocol_flag`` is the command's name for the protocol (``--split`` or
    ``--protocol``; the other is accepted too). ``tuning`` adds ``--fold``, ``--batch-size`` and ``--lr``."""
    from musicgenre.splits import PROTOCOLS

    other = "--protocol" if protocol_flag == "--split" else "--split"

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(
            *args: Any,
            protocol_name: str,
            seed: int,
            k: int,
            split_dir: Path | None,
            artists: Path | None,
            epochs: int,
            zeroshot_map: Path | None,
            augment: str | None,
            precision: str = "float32",
            fold: int | None = None,
            batch_size: int | None = None,
            lr: float | None = None,
            **kwargs: Any,
        ) -> Any:
            from musicgenre.specs import ProtocolSpec, TrainSpec

            kwargs["protocol"] = ProtocolSpec(
                protocol_name, seed=seed, k=k, fold=fold, split_dir=split_dir, artists=artists
            )
            from musicgenre.training.augment import parse_augment

            try:
                aug = parse_augment(augment) if augment else None
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--augment") from None
            kwargs["train"] = TrainSpec(
                epochs=epochs,
                seed=seed,
                batch_size=batch_size,
                lr=lr,
                zeroshot_map=zeroshot_map,
                augment=aug,
                precision=precision,
            )
            return func(*args, **kwargs)

        options = [
            click.option(
                protocol_flag,
                other,
                "protocol_name",
                type=click.Choice(PROTOCOLS),
                default="track",
                help="Evaluation protocol. 'segment' is the study's LEAKY random split of segments; 'artist' "
                "is k folds grouped by artist (--artists).",
            ),
            click.option(
                "--epochs", type=click.IntRange(1), default=30, help="Training epochs (best epoch is kept)."
            ),
            click.option(
                "--seed", type=int, default=0, help="Seed for the split, initialisation and batch order."
            ),
            click.option(
                "--k",
                "k",
                type=click.IntRange(2),
                default=5,
                help="Folds for the kfold and artist protocols.",
            ),
            click.option(
                "--split-dir",
                type=click.Path(path_type=Path),
                default=None,
                help="Folder of *_filtered.txt lists for the fault-filtered protocol "
                "[default: <shared>/data/gtzan-splits].",
            ),
            artists_option,
            click.option(
                "--zeroshot-map",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="CSV of 'genre,class' rows mapping your genres to AudioSet classes for the zero-shot "
                "model [default: GTZAN's ten genres].",
            ),
            click.option(
                "--augment",
                default=None,
                metavar="NAME=VALUE,...",
                help="Training-time augmentation of gradient-trained models (not the probe, zero-shot, "
                "anchored or ensemble fits): mixup=ALPHA, time-masks=N and feature-masks=N (SpecAugment-style "
                "bands of up to mask-fraction=F of an axis, on (time, features) inputs), gain=DB (waveform). "
                "Seeded and recorded in the run's config. E.g. mixup=0.2,time-masks=2,feature-masks=2.",
            ),
            click.option(
                "--precision",
                type=click.Choice(("float32", "bfloat16", "auto")),
                default="float32",
                show_default=True,
                help="CPU training precision of gradient-trained models: bfloat16 runs the forward passes "
                "of training and validation under bfloat16 autocast (loss, optimizer step and checkpoints "
                "stay float32); auto picks bfloat16 for the model kinds where it measured faster, on CPUs "
                "with native bfloat16 (avx512_bf16/amx_bf16), float32 elsewhere. Recorded in the run's "
                "config when not float32. On CUDA, --device's mixed precision applies whatever this says.",
            ),
        ]
        if tuning:
            options += [
                click.option(
                    "--fold",
                    type=click.IntRange(1),
                    default=None,
                    help="Run only this fold (1-based) of kfold or artist.",
                ),
                click.option(
                    "--batch-size",
                    type=click.IntRange(1),
                    default=None,
                    help="Batch size [default: the model's].",
                ),
                click.option(
                    "--lr", type=float, default=None, help="Peak learning rate [default: the model's]."
                ),
            ]
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


class LazyChoice(click.Choice):
    """A Choice whose values come from a registry, looked up only when needed (keeps --help fast)."""

    def __init__(self, source: Callable[[], list[str]], case_sensitive: bool = True) -> None:
        self._source = source
        super().__init__([], case_sensitive=case_sensitive)

    @property  # type: ignore[override]
    def choices(self) -> list[str]:
        return self._source()

    @choices.setter
    def choices(self, value: Any) -> None:  # click assigns in __init__
        pass


def _feature_names() -> list[str]:
    from musicgenre.features import feature_names

    return feature_names()


def _model_names() -> list[str]:
    from musicgenre.models import model_names

    return model_names()


def feature_choice() -> LazyChoice:
    """The registered features, imported only when a value is checked or listed."""
    return LazyChoice(_feature_names)


def model_choice() -> LazyChoice:
    """The registered models, imported only when a value is checked or listed."""
    return LazyChoice(_model_names)
