"""The study's grid: every model x input row, one command, one honest report.

Rows reproduce the study's table (its accuracies came from a LEAKY random split of 3 s segments) and add a
waveform model, a combined model on all inputs and a linear probe. Each row trains in its own run directory;
a finished row is not retrained on a re-run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicgenre.audio.segment import SegmentConfig
from musicgenre.errors import MusicGenreError
from musicgenre.experiment import (
    HELDOUT_MAX_PADDING,
    aggregate,
    evaluate_run,
    feature_configs_for,
    make_train_config,
    prepare_data,
    protocol_splits,
    run_split,
)
from musicgenre.fileio import write_json
from musicgenre.pretrained import PretrainedBundle


@dataclass(frozen=True)
class StudyRow:
    """One row of the grid: a model kind on a tuple of inputs, with the study's reported accuracy."""

    key: str
    label: str
    model: str
    inputs: tuple[str, ...]
    study_accuracy: float | None = None


#: The study's seven rows (accuracies from its leaky segment split), then the rows we add.
STUDY_ROWS: tuple[StudyRow, ...] = (
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
)


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
    if not rows:
        raise MusicGenreError(
            "no study row matches the chosen --models/--inputs (see `musicgenre study --list`)"
        )
    return rows


@dataclass
class StudyReport:
    """What ``run_study`` wrote: the report path, the results table and one summary per row."""

    path: Path
    markdown_table: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def run_study(
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    rows: Sequence[StudyRow] | None = None,
    protocol: str = "track",
    epochs: int = 30,
    seed: int = 0,
    k: int = 5,
    split_dir: Path | None = None,
    eval_data: Path | None = None,
    eval_max_padding: float | None = HELDOUT_MAX_PADDING,
    segment: SegmentConfig | None = None,
    cache_root: Path | None = None,
    workers: int = 2,
    progress: bool = True,
    dataset_label: str | None = None,
    command: str | None = None,
    weights: PretrainedBundle | None = None,
) -> StudyReport:
    """Run every row under ``protocol``, then write results.{md,csv,json}, figures, report.md and report.html.

    ``weights``: pretrained weights for the inputs that need them (see :func:`feature_configs_for`).
    """
    from musicgenre.reporting import write_study_report

    rows = list(rows or STUDY_ROWS)
    out_dir = Path(out_dir)
    segment = segment or SegmentConfig()
    input_names = list(dict.fromkeys(i for r in rows for i in r.inputs))
    configs = feature_configs_for(input_names, weights=weights)
    t0 = time.perf_counter()
    data = prepare_data(data_dir, configs, segment, cache_root=cache_root, workers=workers, progress=progress)
    feature_seconds = time.perf_counter() - t0
    all_splits = protocol_splits(data, protocol, seed=seed, k=k, split_dir=split_dir)
    results: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=1):
        if progress:
            print(
                f"[{n}/{len(rows)}] {row.label}: {row.model} on {'+'.join(row.inputs)} ({protocol})",
                flush=True,
            )
        train_cfg = make_train_config(row.model, epochs=epochs, seed=seed)
        summaries = []
        for i, split in enumerate(all_splits, start=1):
            run_dir = out_dir / row.key / (f"fold-{i}" if protocol == "kfold" else "")
            summaries.append(
                run_split(
                    data,
                    row.model,
                    row.inputs,
                    split,
                    run_dir,
                    train_config=train_cfg,
                    meta={"study_row": row.key},
                    progress=progress,
                )
            )
        summary = aggregate(summaries)
        summary.update({"key": row.key, "label": row.label, "study_accuracy": row.study_accuracy})
        summary["run_dir"] = str(out_dir / row.key)
        if eval_data is not None:
            held = evaluate_run(
                out_dir / row.key,
                data_dir=Path(eval_data),
                cache_root=cache_root,
                workers=workers,
                progress=progress,
                heldout_max_padding=eval_max_padding,
            )
            summary["heldout_track_accuracy"] = held["track_accuracy"]
            summary["heldout_track_accuracy_std"] = held.get("track_accuracy_std")
            summary["heldout_macro_f1"] = held["macro_f1"]
        results.append(summary)
        write_json(out_dir / row.key / "row.json", summary)
    facts = {
        "data_dir": str(Path(data_dir).resolve()),
        "dataset_label": dataset_label or Path(data_dir).resolve().name,
        "protocol": protocol,
        "leaky": any(s.leaky for s in all_splits),
        "split_notes": all_splits[0].notes,
        "n_splits": len(all_splits),
        "split_sizes": [s.sizes() for s in all_splits],
        "n_tracks": len(set(data.track_ids.tolist())),
        "n_segments": data.n_rows,
        "genres": data.label_names,
        "epochs": epochs,
        "seed": seed,
        "segment": segment.to_dict(),
        "feature_seconds": feature_seconds,
        "skipped_files": data.errors,
        "eval_data": str(Path(eval_data).resolve()) if eval_data else None,
        "eval_max_padding": eval_max_padding,
        "command": command,
        "example_track": data.track_ids[0] if data.n_rows else None,
    }
    return write_study_report(out_dir, results, facts, data)
