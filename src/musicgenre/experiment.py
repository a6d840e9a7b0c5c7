"""One experiment: a model on one dataset's cached features under one evaluation protocol.

This is the glue between the feature cache, the split protocols, training and evaluation. The CLI's
``train`` and ``evaluate`` verbs and the ``study`` grid are thin layers over it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre import rerun
from musicgenre import splits as splits_mod
from musicgenre.audio.segment import SegmentConfig
from musicgenre.datasets.artists import ArtistIndex, seen_split
from musicgenre.datasets.index import scan_dataset
from musicgenre.errors import DatasetError, MusicGenreError
from musicgenre.features.registry import FeatureConfig, make_config
from musicgenre.fileio import read_json, write_json
from musicgenre.pretrained import PretrainedBundle
from musicgenre.results import HELD_OUT, RunSummary
from musicgenre.settings import shared_dir
from musicgenre.specs import EVAL_MAX_PADDING, ProtocolSpec, Runtime, TrainSpec


@dataclass
class PreparedData:
    """Cached features of one dataset, aligned row by row across inputs.

    ``inputs[name]`` is a float32 array ``(n_rows, *shape)`` (a memmap when the stores agree row for row).
    """

    root: Path
    inputs: dict[str, np.ndarray]
    feature_configs: dict[str, FeatureConfig]
    segment: SegmentConfig
    label_names: list[str]
    labels: np.ndarray
    track_ids: np.ndarray
    genres: np.ndarray
    segment_index: np.ndarray
    store_paths: dict[str, Path] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.labels)

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape[1:]) for k, v in self.inputs.items()}


def feature_configs_for(
    input_names: Sequence[str],
    options: dict[str, dict[str, Any]] | None = None,
    *,
    weights: Sequence[PretrainedBundle] = (),
) -> dict[str, FeatureConfig]:
    """Default configs of the named features, with per-feature option overrides.

    Features of pretrained models get the bundle of their family in ``weights``, else their default
    weights, resolved here (see :func:`musicgenre.features.pretrained.with_weights`).
    """
    from musicgenre.features.pretrained import with_weights

    options = options or {}
    return with_weights({name: make_config(name, **options.get(name, {})) for name in input_names}, *weights)


def prepare_data(
    root: str | Path,
    feature_configs: dict[str, FeatureConfig],
    segment: SegmentConfig,
    runtime: Runtime = Runtime(),
) -> PreparedData:
    """Build (or reuse) the feature stores of ``root`` and align their rows."""
    from musicgenre.store import build_stores

    root = Path(root)
    index = scan_dataset(root)
    if not index.tracks:
        raise DatasetError(f"{root}: no audio files found under its genre folders")
    configs = list(feature_configs.values())
    stores = build_stores(
        index,
        configs,
        segment,
        cache_root=runtime.cache_dir,
        workers=runtime.workers,
        progress=runtime.progress,
    )
    by_name = {name: stores[cfg.key()] for name, cfg in feature_configs.items()}
    first = next(iter(by_name.values()))
    keys = {name: _row_keys(s) for name, s in by_name.items()}
    ref = keys[next(iter(keys))]
    if all(np.array_equal(k, ref) for k in keys.values()):
        inputs = {name: s.features for name, s in by_name.items()}
        rows_first = np.arange(len(ref))
    else:  # a file failed for one feature but not another: keep the rows every store has
        common = set(ref.tolist())
        for k in keys.values():
            common &= set(k.tolist())
        order = [i for i, key in enumerate(ref.tolist()) if key in common]
        rows_first = np.asarray(order, dtype=np.int64)
        inputs = {}
        for name, s in by_name.items():
            pos = {key: i for i, key in enumerate(keys[name].tolist())}
            inputs[name] = np.asarray(s.features[[pos[ref[i]] for i in order]])
    man = first.manifest
    track_ids = np.asarray(man.track_id)[rows_first].astype(str)
    genres = np.asarray(man.genre)[rows_first].astype(str)
    seg_index = np.asarray(man.segment_index)[rows_first].astype(np.int64)
    label_names = sorted(set(genres.tolist()))
    lookup = {g: i for i, g in enumerate(label_names)}
    labels = np.array([lookup[g] for g in genres], dtype=np.int64)
    errors: list[tuple[str, str]] = []
    for s in by_name.values():
        for e in getattr(s, "errors", []):
            if tuple(e) not in errors:
                errors.append(tuple(e))
    return PreparedData(
        root=root,
        inputs=inputs,
        feature_configs=dict(feature_configs),
        segment=segment,
        label_names=label_names,
        labels=labels,
        track_ids=track_ids,
        genres=genres,
        segment_index=seg_index,
        store_paths={name: Path(s.path) for name, s in by_name.items()},
        errors=errors,
    )


def _row_keys(store: Any) -> np.ndarray:
    man = store.manifest
    return np.array(
        [f"{t}#{i}" for t, i in zip(np.asarray(man.track_id), np.asarray(man.segment_index), strict=True)]
    )


def default_split_dir() -> Path:
    """The fault-filtered split lists: ``<shared>/data/gtzan-splits`` (see :func:`musicgenre.settings.shared_dir`)."""
    return shared_dir() / "data" / "gtzan-splits"


def protocol_splits(data: PreparedData, spec: ProtocolSpec) -> list[splits_mod.Split]:
    """The split(s) of ``spec`` over ``data``'s rows: one, or ``k`` for k-fold."""
    protocol, seed, k, split_dir = spec.name, spec.seed, spec.k, spec.split_dir
    if protocol == "track":
        return [splits_mod.track_split(data.track_ids, data.genres, seed=seed)]
    if protocol == "segment":
        return [splits_mod.segment_split(data.genres, seed=seed)]
    if protocol == "kfold":
        return splits_mod.kfold_splits(data.track_ids, data.genres, k=k, seed=seed)
    if protocol == "artist":
        from musicgenre.artist_splits import artist_kfold_splits
        from musicgenre.datasets.artists import resolve_artists

        return artist_kfold_splits(data.track_ids, data.genres, resolve_artists(spec.artists), k=k, seed=seed)
    if protocol == "fault-filtered":
        from musicgenre.datasets.split_lists import match_split_lists, read_split_lists

        split_dir = Path(split_dir) if split_dir else default_split_dir()
        lists = read_split_lists(split_dir)
        assignment, missing = match_split_lists(lists, sorted(set(data.track_ids.tolist())))
        split = splits_mod.assigned_split(data.track_ids, assignment)
        n_missing = sum(len(v) for v in missing.values())
        if n_missing:
            split.notes.append(
                f"{n_missing} tracks listed in {split_dir} are not in the dataset "
                + ", ".join(f"{side}: {len(v)}" for side, v in missing.items() if v)
            )
        for side in ("train", "valid", "test"):
            if len(getattr(split, side)) == 0:
                raise MusicGenreError(
                    f"fault-filtered split: no {side} tracks of {data.root} are in the lists in {split_dir}"
                )
        tracks = {
            side: len(set(data.track_ids[getattr(split, side)].tolist()))
            for side in ("train", "valid", "test")
        }
        split.notes.append("tracks per side: " + ", ".join(f"{side} {n}" for side, n in tracks.items()))
        if tracks["test"] < 2 * len(data.label_names):
            split.notes.append(
                f"WARNING: only {tracks['test']} test tracks for {len(data.label_names)} genres; accuracies "
                "on so few tracks mean little (the lists are made for the full GTZAN)"
            )
        return [split]
    raise MusicGenreError(f"unknown protocol {protocol!r}; choose one of {', '.join(splits_mod.PROTOCOLS)}")


# ----------------------------------------------------------------------------------------- training runs
def run_split(
    data: PreparedData,
    model_name: str,
    input_names: Sequence[str],
    split: splits_mod.Split,
    out_dir: Path,
    *,
    train: TrainSpec,
    runtime: Runtime,
    meta: dict[str, Any] | None = None,
    model_options: dict[str, Any] | None = None,
) -> RunSummary:
    """Train ``model_name`` on one split, evaluate its best epoch on the split's test rows, write everything.

    ``model_options`` add to the builder options that come from ``train`` (an ensemble's member runs).

    A finished run of the same fingerprint (:mod:`musicgenre.rerun`) is returned as it is, without
    retraining; a folder holding another run is refused, or cleared with ``runtime.overwrite``.
    """
    from musicgenre.evaluation.metrics import evaluate, write_evaluation
    from musicgenre.training.trainer import train_model

    out_dir = Path(out_dir)
    done = out_dir / rerun.SUMMARY_NAME
    train_config = train.config_for(model_name)
    model_options = {**train.model_options_for(model_name), **(model_options or {})}
    fingerprint = rerun.run_fingerprint(data, model_name, input_names, split, train_config, model_options)
    finished = rerun.claim_run_folder(out_dir, fingerprint, overwrite=runtime.overwrite)
    if finished is not None:
        return RunSummary.from_dict(finished)
    splits_mod.check_disjoint(split, data.track_ids)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "split.json", splits_mod.split_to_dict(split, data.track_ids))
    inputs = {n: data.inputs[n] for n in input_names}
    meta = {
        "dataset": str(data.root),
        "protocol": split.protocol,
        "split": split.name,
        "leaky": split.leaky,
        "split_notes": split.notes,
        **(meta or {}),
    }
    result = train_model(
        model_name,
        inputs,
        data.labels,
        split,
        label_names=data.label_names,
        feature_configs={n: data.feature_configs[n] for n in input_names},
        segment_config=data.segment,
        config=train_config,
        out_dir=out_dir,
        model_options=model_options,
        meta=meta,
        progress=runtime.progress,
    )
    title = f"{model_name} on {'+'.join(input_names)} — {split.name}" + (" (LEAKY)" if split.leaky else "")
    ev = evaluate(result.checkpoint_path, inputs, data.labels, data.track_ids, split.test)
    write_evaluation(ev, out_dir, title=title)
    summary = RunSummary(
        model=model_name,
        inputs=tuple(input_names),
        protocol=split.protocol,
        split=split.name,
        leaky=split.leaky,
        dataset=str(data.root),
        segment_accuracy=ev.segment_accuracy,
        track_accuracy=ev.track_accuracy,
        macro_f1=ev.macro_f1,
        n_test_segments=ev.n_segments,
        n_test_tracks=ev.n_tracks,
        n_params=result.n_params,
        train_seconds=result.train_seconds,
        best_epoch=result.best_epoch,
        epochs=train_config.epochs,
        best_valid_accuracy=result.best_valid_acc,
        checkpoints=(str(Path(result.checkpoint_path).resolve()),),
        out_dir=str(out_dir),
    )
    rerun.write_fingerprint(out_dir, fingerprint)
    write_json(done, summary.to_dict())
    return summary


#: Protocols of k folds, each run in ``fold-i``.
FOLD_PROTOCOLS = ("kfold", "artist")


def run_dirs(out_dir: Path, protocol: ProtocolSpec, n_splits: int) -> list[tuple[int, Path]]:
    """``(split number, run folder)`` of the splits to run: ``out_dir/fold-i`` under k-fold, else ``out_dir``."""
    chosen = list(range(1, n_splits + 1))
    folded = protocol.name in FOLD_PROTOCOLS
    if protocol.fold is not None:
        if not folded or protocol.fold > n_splits:
            raise MusicGenreError(
                f"--fold {protocol.fold} needs --split kfold or artist with k >= {protocol.fold}"
            )
        chosen = [protocol.fold]
    return [(i, out_dir / f"fold-{i}" if folded else out_dir) for i in chosen]


def run_experiment(
    data_dir: str | Path,
    model_name: str,
    input_names: Sequence[str],
    out_dir: Path,
    *,
    protocol: ProtocolSpec = ProtocolSpec(),
    train: TrainSpec = TrainSpec(),
    segment: SegmentConfig | None = None,
    runtime: Runtime = Runtime(),
    on_data: Callable[[PreparedData], None] | None = None,
) -> RunSummary:
    """``musicgenre train``: features (cached), split, train, evaluate. k-fold runs go to ``out_dir/fold-i``.

    ``on_data`` is called with the prepared features before training (the CLI lists the skipped files with
    it, also when the feature stores were reused from the cache).
    """
    segment = segment or SegmentConfig()
    configs = feature_configs_for(input_names, weights=runtime.weights)
    data = prepare_data(data_dir, configs, segment, runtime)
    if on_data is not None:
        on_data(data)
    all_splits = protocol_splits(data, protocol)
    out_dir = Path(out_dir)
    chosen = run_dirs(out_dir, protocol, len(all_splits))
    for i, run_dir in chosen:  # refuse another run before run.json is rewritten
        fp = rerun.run_fingerprint(
            data, model_name, input_names, all_splits[i - 1], train.config_for(model_name)
        )
        rerun.check_run_folder(run_dir, fp, overwrite=runtime.overwrite)
    write_json(
        out_dir / "run.json",
        {
            "data_dir": str(Path(data_dir).resolve()),
            "model": model_name,
            "inputs": list(input_names),
            "protocol": protocol.name,
            "seed": protocol.seed,
            "k": protocol.k,
            "split_dir": str(protocol.split_dir) if protocol.split_dir else None,
            "artists": str(protocol.artists) if protocol.artists else None,
            "segment": segment.to_dict(),
            "features": {n: c.to_dict() for n, c in configs.items()},
            "cache_root": str(runtime.cache_dir) if runtime.cache_dir else None,
        },
    )
    summaries = [
        run_split(data, model_name, input_names, all_splits[i - 1], run_dir, train=train, runtime=runtime)
        for i, run_dir in chosen
    ]
    summary = RunSummary.aggregate(summaries)
    if len(summaries) > 1:
        write_json(out_dir / "summary.json", summary.to_dict())
    return summary


def evaluate_run(
    run_dir: Path,
    *,
    data_dir: Path | None = None,
    out_dir: Path | None = None,
    runtime: Runtime = Runtime(),
    eval_max_padding: float | None = EVAL_MAX_PADDING,
    artists: ArtistIndex | None = None,
) -> RunSummary:
    """``musicgenre evaluate``: re-evaluate a run's checkpoint(s) on its test split, or on another dataset.

    With ``data_dir``, every track of that dataset is a test track (its genres must be among the
    checkpoint's labels); use it for held-out data such as GTZAN excerpts of unseen tracks. There,
    segments whose padded fraction exceeds ``eval_max_padding`` (or the checkpoint's own, stricter,
    limit) are dropped (the first segment of a clip is always kept), whatever the checkpoint was trained
    with: a 2.5 s excerpt padded to a 30 s clip would otherwise be judged mostly on nine segments of
    silence. ``None`` keeps the checkpoint's setting. With ``artists``, each held-out evaluation also
    writes ``artists.json``: which of its tracks are by artists of the model's training split (seen) and
    which are not (unseen), for :mod:`musicgenre.evaluation.compare`.
    """
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.evaluation.metrics import evaluate, write_evaluation
    from musicgenre.features.pretrained import with_weights
    from musicgenre.features.registry import config_from_dict

    run_dir = Path(run_dir)
    ckpt_paths = sorted(run_dir.glob("fold-*/model.ckpt")) or [run_dir / "model.ckpt"]
    if not ckpt_paths[0].exists():
        raise MusicGenreError(f"{run_dir}: no model.ckpt (is this a finished training run?)")
    summaries = []
    for ckpt_path in ckpt_paths:
        ckpt = load_checkpoint(ckpt_path)
        configs = with_weights({n: config_from_dict(d) for n, d in ckpt.inputs.items()}, *runtime.weights)
        segment = SegmentConfig.from_dict(ckpt.segment)
        if data_dir is None:
            src = Path(ckpt.meta.get("dataset", ""))
            data = prepare_data(src, configs, segment, runtime)
            sides = read_json(ckpt_path.parent / "split.json")["tracks"]
            rows = np.flatnonzero(np.isin(data.track_ids, sides["test"]))
            target = Path(out_dir) if out_dir else ckpt_path.parent
            labels = _labels_for(data, ckpt.labels)
        else:
            if eval_max_padding is not None:
                own = segment.max_padding
                limit = eval_max_padding if own is None else min(own, eval_max_padding)
                segment = dataclasses.replace(segment, max_padding=limit)
            data = prepare_data(data_dir, configs, segment, runtime)
            labels = _labels_for(data, ckpt.labels)
            rows = np.flatnonzero(labels >= 0)
            name = Path(data_dir).resolve().name
            base = Path(out_dir) if out_dir else run_dir / f"eval-{name}"
            target = base / ckpt_path.parent.name if len(ckpt_paths) > 1 else base
        ev = evaluate(ckpt_path, data.inputs, labels, data.track_ids, rows)
        title = f"{ckpt.model_name} on {'+'.join(ckpt.inputs)} — evaluated on {data.root}"
        write_evaluation(ev, target, title=title)
        if data_dir is not None and artists is not None:
            _write_seen_artists(target, artists, ckpt_path.parent / "split.json", ev.track_ids.tolist())
        summary = RunSummary(
            model=ckpt.model_name,
            inputs=tuple(ckpt.inputs),
            protocol=ckpt.meta.get("protocol", "?") if data_dir is None else HELD_OUT,
            split=ckpt.meta.get("split", "?") if data_dir is None else HELD_OUT,
            leaky=bool(ckpt.meta.get("leaky", False)) and data_dir is None,
            dataset=str(data.root),
            segment_accuracy=ev.segment_accuracy,
            track_accuracy=ev.track_accuracy,
            macro_f1=ev.macro_f1,
            n_test_tracks=ev.n_tracks,
            n_test_segments=len(rows),
            max_padding=segment.max_padding,
            checkpoints=(str(ckpt_path.resolve()),),
            out_dir=str(target),
        )
        write_json(target / "evaluation.json", summary.to_dict())
        summaries.append(summary)
    return RunSummary.aggregate(summaries)


def _write_seen_artists(target: Path, artists: ArtistIndex, split_file: Path, tracks: list[str]) -> None:
    """``target/artists.json``: the held-out tracks by artists the model trained on, and the others."""
    from musicgenre.evaluation.compare import ARTISTS_FILE

    if not split_file.is_file():
        raise MusicGenreError(f"{split_file}: missing; cannot tell which artists the model trained on")
    sides = read_json(split_file)["tracks"]
    seen, unseen = seen_split(artists, [*sides["train"], *sides["valid"]], tracks)
    write_json(
        target / ARTISTS_FILE,
        {"artists_file": str(artists.source), "seen_tracks": seen, "unseen_tracks": unseen},
    )


def _labels_for(data: PreparedData, label_names: Sequence[str]) -> np.ndarray:
    """Class ids of ``data``'s rows in the checkpoint's label order; -1 for genres the model does not know.

    Genre folders the model does not know are left out with a warning on stderr naming them and how many
    tracks each held (folder names must match the labels exactly: ``Blues`` is not ``blues``); an error
    when none is known.
    """
    import sys

    lookup = {g: i for i, g in enumerate(label_names)}
    unknown = sorted(set(data.genres.tolist()) - set(lookup))
    if len(unknown) == len(set(data.genres.tolist())):
        raise MusicGenreError(
            f"{data.root}: none of its genres {unknown} are among the model's labels {list(label_names)}"
        )
    if unknown:
        tracks = {g: len(set(data.track_ids[data.genres == g].tolist())) for g in unknown}
        listed = ", ".join(f"{g} ({n} track{'s' if n != 1 else ''})" for g, n in tracks.items())
        print(
            f"warning: {data.root}: left out genre folders that are not among the model's labels: {listed}; "
            f"the labels are {', '.join(label_names)}",
            file=sys.stderr,
        )
    return np.array([lookup.get(g, -1) for g in data.genres], dtype=np.int64)
