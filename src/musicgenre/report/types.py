"""The report's own types: what a study hands to the report writer, and what the writer gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre.results import StudyResult


@dataclass(frozen=True)
class ExampleSegment:
    """One segment's inputs for the "four inputs" figure (``arrays`` by feature name), already computed."""

    arrays: dict[str, np.ndarray]
    caption: str
    sample_rate: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudyFacts:
    """The setup of a study, as the report states it."""

    data_dir: str
    dataset_label: str
    protocol: str
    leaky: bool
    split_notes: list[str]
    n_splits: int
    split_sizes: list[dict[str, int]]
    n_tracks: int
    n_segments: int
    genres: list[str]
    epochs: int
    seed: int
    segment: dict[str, Any]
    feature_seconds: float
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    eval_data: str | None = None
    eval_max_padding: float | None = None
    command: str | None = None
    example: ExampleSegment | None = None


@dataclass(frozen=True)
class RowFigures:
    """The per-model figures of one study row that exist on disk: ``(path, alt text)``, and a note."""

    figures: tuple[tuple[Path, str], ...]
    note: str | None = None


@dataclass
class StudyReport:
    """What the report writer wrote: the report path, the results table and one result per row."""

    path: Path
    markdown_table: str
    rows: list[StudyResult] = field(default_factory=list)
