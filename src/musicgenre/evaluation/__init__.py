"""Evaluation: segment- and track-level metrics, confusion matrices, training curves and result tables."""

from musicgenre.evaluation.metrics import (
    EvalResult,
    evaluate,
    evaluate_probabilities,
    predict_proba,
    write_evaluation,
)
from musicgenre.evaluation.tables import format_markdown_table, write_tables

__all__ = [
    "EvalResult",
    "evaluate",
    "evaluate_probabilities",
    "format_markdown_table",
    "predict_proba",
    "write_evaluation",
    "write_tables",
]
