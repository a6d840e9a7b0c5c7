"""The study's grid: every model x input row, one command, one honest report.

Rows reproduce the study's table (its accuracies came from a LEAKY random split of 3 s segments) and add a
waveform model, a combined model on all inputs and a linear probe. Each row trains in its own run directory;
a finished row is not retrained on a re-run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre.audio.segment import SegmentConfig
from musicgenre.datasets.artists import optional_artists
from musicgenre.errors import MusicGenreError
from musicgenre.evaluation.compare import study_stats
from musicgenre.experiment import (
    PreparedData,
    evaluate_run,
    feature_configs_for,
    prepare_data,
    protocol_splits,
    run_dirs,
    run_split,
)
from musicgenre.fileio import write_json
from musicgenre.pretrained import PretrainedBundle
from musicgenre.report.types import ExampleSegment, StudyFacts, StudyReport
from musicgenre.rerun import FINGERPRINT_NAME
from musicgenre.results import RunSummary, StudyResult
from musicgenre.specs import HeldOut, ProtocolSpec, Runtime, TrainSpec
from musicgenre.training.augment import Augment


@dataclass(frozen=True)
class StudyRow:
    """One row of the grid: a model kind on a tuple of inputs, with the study's reported accuracy."""

    key: str
    label: str
    model: str
    inputs: tuple[str, ...]
    study_accuracy: float | None = None
    members: tuple[str, ...] = ()  # an ensemble's member rows (run before it, on the same splits)
    augment: Augment | None = None  # this row's training-time augmentation (else the command's)


def ensemble_row(key: str, label: str, members: tuple[str, ...]) -> StudyRow:
    """An ``ensemble`` row of ``members``: its inputs are theirs, in order."""
    by_key = {r.key: r for r in _BASE_ROWS}
    inputs = tuple(dict.fromkeys(i for m in members for i in by_key[m].inputs))
    return StudyRow(key, label, "ensemble", inputs, members=members)


#: The study's seven rows (accuracies from its leaky segment split), then the rows we add.
_BASE_ROWS: tuple[StudyRow, ...] = (
    StudyRow("cnn_mfcc", "CNN MFCC", "cnn2d", ("mfcc",), 0.75),
    StudyRow("cnn_spectrogram", "CNN Spectrogram", "cnn2d", ("yamnet_logmel",), 0.32),
    StudyRow("cnn_embedding", "CNN Embedding", "cnn1d", ("yamnet_embedding",), 0.81),
    StudyRow("lstm_mfcc", "LSTM MFCC", "bilstm", ("mfcc",), 0.59),
    StudyRow("lstm_spectrogram", "LSTM Spectrogram", "bilstm", ("yamnet_logmel",), 0.60),
    StudyRow("lstm_embedding", "LSTM Embedding", "bilstm", ("yamnet_embedding",), 0.77),
    StudyRow(
        "combined_no_spec", "Combined (No Spectrograms)", "combined", ("yamnet_embedding", "mfcc"), 0.81
    ),
    StudyRow("waveform_cnn", "Waveform CNN", "waveform_cnn", ("waveform",)),
    StudyRow(
        "combined_all",
        "Combined (all inputs)",
        "combined",
        ("waveform", "yamnet_embedding", "yamnet_logmel", "mfcc"),
    ),
    StudyRow("probe_embedding", "Linear probe (YAMNet mean+std)", "probe", ("yamnet_embedding",)),
    StudyRow(
        "zeroshot_yamnet", "Zero-shot YAMNet (AudioSet genres)", "zeroshot_yamnet", ("yamnet_embedding",)
    ),
    StudyRow(
        "anchored_yamnet",
        "Anchored head (YAMNet genre rows, L2-SP)",
        "anchored_yamnet",
        ("yamnet_embedding",),
    ),
    StudyRow(
        "lstm_embedding_aug",
        "LSTM Embedding + mixup and masks",
        "bilstm",
        ("yamnet_embedding",),
        augment=Augment(mixup_alpha=0.2, time_masks=1, feature_masks=2, mask_fraction=0.15),
    ),
    StudyRow(
        "finetune_yamnet",
        "Fine-tuned YAMNet (last 2 layers) + anchored head",
        "finetune_yamnet",
        ("yamnet_activations",),
    ),
    StudyRow("probe_musicnn", "Linear probe (musicnn MSD max+mean)", "probe", ("musicnn_msd",)),
    StudyRow(
        "probe_yamnet_musicnn",
        "Linear probe (YAMNet + musicnn)",
        "probe",
        ("yamnet_embedding", "musicnn_msd"),
    ),
    StudyRow(
        "combined_yamnet_musicnn",
        "Combined (YAMNet + musicnn)",
        "combined",
        ("yamnet_embedding", "musicnn_msd"),
    ),
)

STUDY_ROWS: tuple[StudyRow, ...] = (
    *_BASE_ROWS,
    ensemble_row(
        "ensemble_zeroshot_anchored",
        "Ensemble: zero-shot + anchored head",
        ("zeroshot_yamnet", "anchored_yamnet"),
    ),
    ensemble_row(
        "ensemble_zeroshot_musicnn",
        "Ensemble: zero-shot + musicnn probe",
        ("zeroshot_yamnet", "probe_musicnn"),
    ),
    ensemble_row(
        "ensemble_zeroshot_anchored_musicnn",
        "Ensemble: zero-shot + anchored head + musicnn probe",
        ("zeroshot_yamnet", "anchored_yamnet", "probe_musicnn"),
    ),
    ensemble_row(
        "ensemble_lstm_musicnn",
        "Ensemble: LSTM Embedding + musicnn probe",
        ("lstm_embedding", "probe_musicnn"),
    ),
    ensemble_row(
        "ensemble_zeroshot_lstm_musicnn",
        "Ensemble: zero-shot + LSTM Embedding + musicnn probe",
        ("zeroshot_yamnet", "lstm_embedding", "probe_musicnn"),
    ),
)


#: The row every trained row is compared with: no training, YAMNet's own genre classes.
ZERO_SHOT_FLOOR = "zeroshot_yamnet"


def select_rows(models: str | None, inputs: str | None) -> list[StudyRow]:
    """Rows chosen by comma-separated row keys or model kinds, and/or restricted to the given inputs."""
    rows = list(STUDY_ROWS)
    if models:
        wanted = [m.strip() for m in models.split(",") if m.strip()]
        known = {r.key for r in STUDY_ROWS} | {r.model for r in STUDY_ROWS}
        unknown = [w for w in wanted if w not in known]
        if unknown:
            raise MusicGenreError(
                f"unknown study row or model {unknown}; rows: {', '.join(r.key for r in STUDY_ROWS)}; "
                f"models: {', '.join(sorted({r.model for r in STUDY_ROWS}))}"
            )
        rows = [r for r in rows if r.key in wanted or r.model in wanted]
    if inputs:
        allowed = {i.strip() for i in inputs.split(",") if i.strip()}
        rows = [r for r in rows if set(r.inputs) <= allowed]
    chosen = {r.key for r in rows} | {m for r in rows for m in r.members}
    rows = [r for r in STUDY_ROWS if r.key in chosen]  # an ensemble's members run too, before it
    if not rows:
        raise MusicGenreError(
            "no study row matches the chosen --models/--inputs (see `musicgenre study --list`)"
        )
    return rows


def member_runs(
    out_dir: Path, row: StudyRow, protocol: ProtocolSpec, n_splits: int, split: int
) -> dict[str, Any] | None:
    """An ensemble row's builder options for split ``split``: its members' run folders of that split and
    their fingerprints (so that a retrained member makes the ensemble a new run)."""
    if not row.members:
        return None
    dirs = [dict(run_dirs(out_dir / m, protocol, n_splits))[split] for m in row.members]
    prints = []
    for d in dirs:
        fp = d / FINGERPRINT_NAME
        prints.append(hashlib.sha1(fp.read_bytes()).hexdigest()[:16] if fp.exists() else None)
    return {"member_dirs": [str(d) for d in dirs], "member_fingerprints": prints}


def example_segment(data: PreparedData, weights: Sequence[PretrainedBundle] = ()) -> ExampleSegment | None:
    """The four inputs of one segment of the dataset's first track, for the report's figure.

    The second segment is used when it is mostly music (the first often starts quietly); inputs that cannot
    be computed (e.g. no YAMNet weights) are left out with a note.
    """
    from musicgenre.audio.io import load_audio
    from musicgenre.audio.segment import split_segments
    from musicgenre.datasets.index import scan_dataset
    from musicgenre.features.registry import extract_many
    from musicgenre.report.figures import FOUR_INPUTS

    if not data.n_rows:
        return None
    track_id = data.track_ids[0]
    track = next(t for t in scan_dataset(data.root).tracks if t.track_id == track_id)
    segs = split_segments(load_audio(track.path, data.segment.sample_rate), data.segment)
    seg_i = 1 if len(segs) > 1 and segs.padding[1] < 0.5 else 0
    seg = segs.samples[seg_i : seg_i + 1]
    arrays: dict[str, np.ndarray] = {"waveform": seg[0]}
    notes: list[str] = []
    for name in FOUR_INPUTS[1:]:
        try:
            cfg = data.feature_configs.get(name) or feature_configs_for([name], weights=weights)[name]
            arrays[name] = extract_many([cfg], seg, data.segment.sample_rate)[cfg.key()][0]
        except (MusicGenreError, KeyError) as exc:
            notes.append(f"{name}: not shown ({exc})")
    caption = (
        f"{track.genre} track {track.track_id}, segment {int(segs.index[seg_i])} "
        f"({data.segment.segment_seconds:g} s)"
    )
    return ExampleSegment(arrays, caption, data.segment.sample_rate, tuple(notes))


def run_study(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    rows: Sequence[StudyRow] | None = None,
    protocol: ProtocolSpec = ProtocolSpec(),
    train: TrainSpec = TrainSpec(),
    segment: SegmentConfig | None = None,
    runtime: Runtime = Runtime(),
    heldout: HeldOut | None = None,
    dataset_label: str | None = None,
    command: str | None = None,
    on_data: Callable[[PreparedData], None] | None = None,
) -> StudyReport:
    """Run every row under ``protocol``, then write results.{md,csv,json}, figures, report.md and report.html.

    ``on_data`` is called with the prepared features before training (see
    :func:`~musicgenre.experiment.run_experiment`).
    """
    from musicgenre.report import write_study_report

    rows = list(rows or STUDY_ROWS)
    out_dir = Path(out_dir)
    segment = segment or SegmentConfig()
    input_names = list(dict.fromkeys(i for r in rows for i in r.inputs))
    configs = feature_configs_for(input_names, weights=runtime.weights)
    t0 = time.perf_counter()
    data = prepare_data(data_dir, configs, segment, runtime)
    feature_seconds = time.perf_counter() - t0
    if on_data is not None:
        on_data(data)
    all_splits = protocol_splits(data, protocol)
    artists = optional_artists(protocol.artists) if heldout is not None else None
    results: list[StudyResult] = []
    for n, row in enumerate(rows, start=1):
        if runtime.progress:
            print(
                f"[{n}/{len(rows)}] {row.label}: {row.model} on {'+'.join(row.inputs)} ({protocol.name})",
                flush=True,
            )
        run_dir = out_dir / row.key
        summaries = [
            run_split(
                data,
                row.model,
                row.inputs,
                all_splits[i - 1],
                split_dir,
                train=dataclasses.replace(train, augment=row.augment) if row.augment else train,
                runtime=runtime,
                meta={"study_row": row.key},
                model_options=member_runs(out_dir, row, protocol, len(all_splits), i),
            )
            for i, split_dir in run_dirs(run_dir, protocol, len(all_splits))
        ]
        held = None
        if heldout is not None:
            held = evaluate_run(
                run_dir,
                data_dir=heldout.data_dir,
                runtime=runtime,
                eval_max_padding=heldout.max_padding,
                artists=artists,
            )
        results.append(
            StudyResult(
                key=row.key,
                label=row.label,
                study_accuracy=row.study_accuracy,
                summary=RunSummary.aggregate(summaries),
                run_dir=str(run_dir),
                heldout=held,
            )
        )
    stats = study_stats(
        [(r.key, Path(r.run_dir), Path(r.heldout.out_dir) if r.heldout else None) for r in results],
        floor=ZERO_SHOT_FLOOR,
        seed=train.seed,
    )
    results = [dataclasses.replace(r, stats=stats.rows[r.key]) for r in results]
    for r in results:
        write_json(Path(r.run_dir) / "row.json", r.to_row())
    facts = StudyFacts(
        data_dir=str(Path(data_dir).resolve()),
        dataset_label=dataset_label or Path(data_dir).resolve().name,
        protocol=protocol.name,
        leaky=any(s.leaky for s in all_splits),
        split_notes=list(all_splits[0].notes),
        n_splits=len(all_splits),
        split_sizes=[s.sizes() for s in all_splits],
        n_tracks=len(set(data.track_ids.tolist())),
        n_segments=data.n_rows,
        genres=list(data.label_names),
        epochs=train.epochs,
        seed=train.seed,
        segment=segment.to_dict(),
        feature_seconds=feature_seconds,
        skipped_files=[tuple(e) for e in data.errors],
        eval_data=str(Path(heldout.data_dir).resolve()) if heldout else None,
        eval_max_padding=heldout.max_padding if heldout else None,
        command=command,
        example=example_segment(data, runtime.weights),
    )
    return write_study_report(out_dir, results, facts, stats)
