"""The study report: results tables, figures, ``report.md`` and a self-contained ``report.html``.

Rendering is a pure function of the results (:mod:`.render`); this module only writes files. The report
states the protocol and its caveats: GTZAN's known faults and the segment leakage of the study's split.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from musicgenre.evaluation.compare import StudyStats
from musicgenre.fileio import write_text
from musicgenre.report.figures import (
    plot_accuracy_comparison,
    plot_four_inputs,
    plot_interval_bars,
    plot_validation_curves,
    pooled_confusion,
)
from musicgenre.report.html import markdown_to_html
from musicgenre.report.render import render_markdown, title_of
from musicgenre.report.tables import markdown_table, write_tables
from musicgenre.report.types import ExampleSegment, RowFigures, StudyFacts, StudyReport
from musicgenre.results import StudyResult

__all__ = [
    "ExampleSegment",
    "RowFigures",
    "StudyFacts",
    "StudyReport",
    "markdown_table",
    "pooled_confusion",
    "write_study_report",
]


def _row_figures(result: StudyResult, genres: Sequence[str]) -> RowFigures:
    """Training curves (fold 1 under k-fold) and the confusion matrix of a row, drawing the pooled one."""
    from musicgenre.evaluation.figures import plot_confusion_matrices

    run = Path(result.run_dir)
    first = run / "fold-1" if (run / "fold-1").exists() else run
    figures = [(first / "training_curves.png", "training curves")]
    note = None
    pooled = pooled_confusion(run, genres)
    if pooled is not None:
        cm, n_folds = pooled
        path = run / "confusion_matrix_all_folds.png"
        sub = f"track level, all {n_folds} folds ({int(cm.sum())} tracks)"
        plot_confusion_matrices([(cm, sub)], list(genres), path, title=result.label)
        figures.append((path, "confusion matrix (all folds)"))
        note = "Training curves of fold 1; confusion matrix of every fold's test tracks together."
    else:
        figures.append((first / "confusion_matrix.png", "confusion matrix"))
    return RowFigures(tuple((p, alt) for p, alt in figures if p.exists()), note)


def write_study_report(
    out_dir: Path, results: list[StudyResult], facts: StudyFacts, stats: StudyStats | None = None
) -> StudyReport:
    """Write the tables, figures, ``report.md`` and ``report.html`` of a finished study."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    rows = [r.to_row() for r in results]
    table_md = markdown_table(rows)
    write_tables(out_dir, rows)
    plot_accuracy_comparison(rows, fig_dir / "accuracy_comparison.png", facts.protocol)
    curves = plot_validation_curves(rows, fig_dir / "validation_curves.png") is not None
    if facts.example is not None:
        plot_four_inputs(facts.example, fig_dir / "four_inputs.png")
    row_figures = {r.key: _row_figures(r, facts.genres) for r in results}
    floor = stats.floor if stats is not None else None
    unseen = plot_interval_bars(
        rows, "unseen_accuracy", fig_dir / "unseen_accuracy.png",
        "Held-out tracks by artists not in training", floor,
    )  # fmt: skip
    track_ci = plot_interval_bars(
        rows, "track_accuracy", fig_dir / "track_accuracy_ci.png", f"Track accuracy ({facts.protocol})", floor
    )
    report_md = render_markdown(
        results, facts, table_md, out_dir=out_dir, curves=curves, row_figures=row_figures, stats=stats,
        unseen_figure=unseen is not None,
        track_ci_figure=track_ci is not None and stats is not None,
    )  # fmt: skip
    write_text(out_dir / "report.md", report_md)
    write_text(out_dir / "report.html", markdown_to_html(report_md, out_dir, title_of(facts)))
    return StudyReport(path=out_dir / "report.md", markdown_table=table_md, rows=list(results))
