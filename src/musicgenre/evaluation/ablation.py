"""The generalisation ablation: what each ingredient adds on tracks by artists the models never saw.

Each step compares two rows of one study that differ by one ingredient (anchoring, fine-tuning,
augmentation, ensembling, a second backbone), on the held-out tracks whose artists neither row trained
on: the paired bootstrap interval of the accuracy difference (:func:`~musicgenre.evaluation.compare.
compare_unseen`), and on the protocol's test tracks the same difference with McNemar's test. Steps whose
rows are missing from the study are left out and listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from musicgenre.evaluation.compare import Comparison, compare_test, compare_unseen

#: (ingredient, row without it, row with it).
ABLATION_STEPS: tuple[tuple[str, str, str], ...] = (
    (
        "anchoring: a linear head started from YAMNet's genre rows (L2-SP) vs the plain probe",
        "probe_embedding",
        "anchored_yamnet",
    ),
    ("fine-tuning YAMNet's last 2 layers, over the anchored head", "anchored_yamnet", "finetune_yamnet"),
    ("augmentation (mixup and masks) of the BiLSTM", "lstm_embedding", "lstm_embedding_aug"),
    (
        "ensembling the anchored head with the zero-shot model",
        "anchored_yamnet",
        "ensemble_zeroshot_anchored",
    ),
    (
        "a second backbone: the musicnn probe added to zero-shot + anchored",
        "ensemble_zeroshot_anchored",
        "ensemble_zeroshot_anchored_musicnn",
    ),
    (
        "ensembling the BiLSTM with zero-shot and the musicnn probe",
        "lstm_embedding",
        "ensemble_zeroshot_lstm_musicnn",
    ),
)


@dataclass(frozen=True)
class AblationStep:
    """One ingredient: the two rows and their differences (``with - without``)."""

    ingredient: str
    without: str
    with_: str
    unseen: Comparison | None
    test: Comparison


def run_ablation(study_dir: Path, steps: Sequence[tuple[str, str, str]] = ABLATION_STEPS, *, seed: int = 0
                 ) -> tuple[list[AblationStep], list[str]]:  # fmt: skip
    """The steps whose two rows are in ``study_dir`` (each ``<row>/`` with ``eval-*/`` held-out results),
    and the ingredients left out for a missing row."""
    out, missing = [], []
    for ingredient, a, b in steps:
        da, db = study_dir / a, study_dir / b
        if not (da.is_dir() and db.is_dir()):
            missing.append(f"{ingredient} ({a} or {b} not in the study)")
            continue
        ha, hb = _heldout(da), _heldout(db)
        unseen = compare_unseen(b, hb, a, ha, seed=seed) if ha and hb else None
        out.append(AblationStep(ingredient, a, b, unseen, compare_test(b, db, a, da, seed=seed)))
    return out, missing


def _heldout(run_dir: Path) -> Path | None:
    found = sorted(p for p in run_dir.glob("eval-*") if p.is_dir())
    return found[0] if found else None


def _fmt(c: Comparison | None) -> str:
    if c is None:
        return "n/a"
    d = c.difference
    mark = " ✓" if c.distinguishable else ""
    return f"{d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}]{mark}"


def ablation_markdown(steps: Sequence[AblationStep], missing: Sequence[str] = ()) -> str:
    """The ablation as a markdown table (✓: the interval excludes 0, and McNemar's p < 0.05 on test)."""
    lines = [
        "| ingredient | without -> with | unseen artists (held-out): difference [95% CI] | test tracks: difference [95% CI] | McNemar p |",
        "|---|---|---:|---:|---:|",
    ]
    for s in steps:
        p = f"{s.test.test.p_value:.3f}" if s.test.test is not None else "n/a"
        lines.append(
            f"| {s.ingredient} | `{s.without}` -> `{s.with_}` | {_fmt(s.unseen)} | {_fmt(s.test)} | {p} |"
        )
    if missing:
        lines += ["", "Not in this study:", *(f"- {m}" for m in missing)]
    return "\n".join(lines) + "\n"
