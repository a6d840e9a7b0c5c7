"""The study report as Markdown: a pure function of the results, the setup and the figures' paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from musicgenre.evaluation.compare import UNSEEN, StudyStats
from musicgenre.report.types import RowFigures, StudyFacts
from musicgenre.results import StudyResult
from musicgenre.splits import LEAKY_WARNING

#: Why every gradient-trained model is trained the way it is (the defaults of ``TrainConfig``).
TRAINING_RATIONALE = """\
Every gradient-trained model uses the same recipe: AdamW (learning rate 1e-3, weight decay 0.05 on weights
but not on biases or batch-norm parameters, betas 0.9/0.999), batch size 64, cross-entropy, gradient norm
clipped at 5, 30 epochs, and a per-step schedule of one epoch of linear warm-up followed by cosine decay
to 1% of the peak learning rate. The checkpoint keeps the epoch with the best validation accuracy (ties:
lower validation loss). Why this recipe: Adam-type optimisers train the LSTMs, CNNs and the multi-input
model well at one shared learning rate, so all rows of the study compare architectures rather than
per-model tuning; decoupled weight decay (AdamW) is the regulariser that behaves the same whatever the
gradient scale of each model. The warm-up protects batch-norm statistics and Adam's second-moment
estimates during the first steps. Cosine decay spends the early epochs at a high learning rate and
anneals smoothly, so the last epochs are stable and validation accuracy plateaus instead of jumping
between epochs; selecting the best epoch on such a curve is less of a lottery. We preferred it to
OneCycle, whose long warm-up (30% of training) and momentum cycling were designed for SGD at very high
peak rates and would add a second knob (the peak rate) to tune per model. The linear probe is not
trained by gradient descent: scikit-learn's logistic regression (lbfgs) on standardised mean+std-pooled
embeddings, with C chosen on the validation set from {0.001, 0.01, 0.1, 1, 10}. Normalisation statistics
(per MFCC coefficient, mel band or embedding dimension; one global mean/std for the waveform) come from
the training rows only. Runs are seeded and bit-reproducible on a CPU for a given thread count."""


CAVEATS = """\
## Caveats

- **Segment leakage.** The study split its 3 s segments at random, so slices of one song sat on both sides
  of the split; a model can then recognise the *recording* rather than the genre. Its numbers (the
  "Study acc." column) are therefore optimistic. Our default protocol splits by **track** before
  segmenting; `--protocol segment` reproduces the leaky split on request and every output labels it LEAKY.
- **Track-level accuracy** averages the probabilities of a track's segments and takes the most likely
  genre; it is the figure to compare with other work. Segment-level accuracy is shown beside it.
- **GTZAN's faults** (Sturm, "An analysis of the GTZAN music genre dataset", 2012; "The GTZAN dataset:
  its contents, its faults, their effects on evaluation, and the future use", 2013): exact and recording
  repetitions, mislabelings, distortions, and many tracks by the same artist. Random splits put one
  artist on both sides. The fault-filtered, artist-conscious split of Kereliuk, Sturm & Larsen (2015)
  (`--protocol fault-filtered`) avoids this and is the one used by later work (Lee et al., Pons et al.,
  JukeMIR, MARBLE).
- **Small data.** On a subset such as gtzan-mini (10 tracks per genre), a test split holds only a few
  tracks per genre, so accuracies move by several points between seeds or folds; prefer k-fold means with
  their standard deviation.
"""


def title_of(facts: StudyFacts) -> str:
    """The report's title: dataset and protocol, with LEAKY when the split leaks."""
    return f"musicgenre study on {facts.dataset_label} — protocol: {facts.protocol}" + (
        " (LEAKY)" if facts.leaky else ""
    )


def _setup(facts: StudyFacts) -> list[str]:
    seg = facts.segment
    md = [
        "## Setup",
        "",
        f"- Dataset: `{facts.data_dir}` — {facts.n_tracks} tracks, {facts.n_segments} segments, "
        f"genres: {', '.join(facts.genres)}.",
        f"- Segments: {seg['segment_seconds']:g} s at {seg['sample_rate']} Hz; clips cut "
        f"or zero-padded to {seg['clip_seconds']} s; "
        + (
            "all segments kept, padding included (as the study)."
            if seg.get("max_padding") is None
            else f"segments more than {seg['max_padding']:.0%} padding dropped."
        ),
        f"- Protocol: `{facts.protocol}` ({facts.n_splits} split(s)); " + "; ".join(facts.split_notes),
        f"- Segments per side (first split): {facts.split_sizes[0]}.",
        f"- Training: {facts.epochs} epochs per model, best epoch by validation accuracy, seed {facts.seed}.",
    ]
    if facts.eval_data:
        md.append(
            f"- Held-out evaluation: every best checkpoint also labels `{facts.eval_data}` "
            "(tracks in no training split; evaluation only): column *Held-out acc.* (track level)"
            + (
                f"; segments more than {facts.eval_max_padding:.0%} padding dropped there."
                if facts.eval_max_padding is not None
                else "."
            )
        )
    if facts.skipped_files:
        md.append(
            f"- Skipped files: {len(facts.skipped_files)} — "
            + "; ".join(f"{p}: {e}" for p, e in facts.skipped_files[:10])
        )
    if facts.command:
        md += ["", "Command:", "", "```", facts.command, "```"]
    return md


#: How the prose names the scope of a comparison.
SCOPE_WORDS = {"test": "the protocol's test tracks", UNSEEN: "held-out tracks by unseen artists"}


def _iv(iv) -> str:
    return f"{iv.estimate:.3f} [{iv.low:.2f}, {iv.high:.2f}], n={iv.n}"


def uncertainty_section(results: Sequence[StudyResult], stats: StudyStats) -> list[str]:
    """Which rows lead, how sure each figure is, and which rows cannot be told apart."""
    label = {r.key: r.label for r in results}
    best = stats.rows[stats.best]
    lead = best.unseen if best.unseen is not None else best.test
    what = "unseen-artist accuracy on held-out data" if best.unseen is not None else "track accuracy"
    md = [
        "## How sure are these numbers",
        "",
        "Every interval is a 95% percentile bootstrap over tracks (2,000 resamples). On the protocol's test "
        "side the folds' out-of-fold predictions are pooled, each track once; on held-out data a track's "
        "score is the fraction of the fold models that labelled it right, and a track counts as *unseen* "
        "for a model when its artist is on no side of that model's training split.",
        "",
        f"- Best row by {what}: **{label[stats.best]}**, {_iv(lead)}.",
    ]
    if stats.floor is not None:
        floor = stats.rows[stats.floor]
        md.append(
            f"- Zero-shot floor ({label[stats.floor]}, no training): track accuracy {_iv(floor.test)}"
            + (f"; unseen artists {_iv(floor.unseen)}." if floor.unseen is not None else ".")
        )
    scopes = sorted({c.scope for c in stats.comparisons}, key=lambda sc: sc != UNSEEN)
    for scope in scopes:
        tied = stats.indistinguishable_from(stats.best, scope)
        md.append(
            f"- Cannot be told apart from the best row on {SCOPE_WORDS.get(scope, scope)} (the interval of the difference "
            f"contains 0, or McNemar's p is 0.05 or more): {', '.join(label[k] for k in tied) or 'none'}."
        )
    if stats.floor is not None:
        below = [
            label[c.a]
            for c in stats.comparisons
            if c.b == stats.floor and c.distinguishable and c.difference.estimate < 0
        ]
        md.append(f"- Worse than the zero-shot floor in some comparison: {', '.join(below) or 'none'}.")
    md += [
        "",
        "| Row A | Row B | Tracks | A - B [95% CI] | McNemar (A only / B only, p) | Told apart? |",
        "|---|---|---|---|---|---|",
    ]
    for c in stats.comparisons:
        test = f"{c.test.a_only} / {c.test.b_only}, p={c.test.p_value:.3f}" if c.test is not None else "–"
        d = c.difference
        md.append(
            f"| {label[c.a]} | {label[c.b]} | {c.scope} ({d.n}) | {d.estimate:+.3f} [{d.low:+.2f}, {d.high:+.2f}] "
            f"| {test} | {'yes' if c.distinguishable else 'no'} |"
        )
    return [*md, ""]


def render_markdown(
    results: Sequence[StudyResult],
    facts: StudyFacts,
    table_md: str,
    *,
    out_dir: Path,
    curves: bool,
    row_figures: Mapping[str, RowFigures],
    stats: StudyStats | None = None,
    unseen_figure: bool = False,
    track_ci_figure: bool = False,
) -> str:
    """``report.md`` of a finished study. Figure links are relative to ``out_dir``; only figures that
    exist are passed in (``curves``: the validation-curves figure was drawn; ``unseen_figure``: the
    unseen-artist accuracy figure, which the results lead with)."""
    md: list[str] = [f"# {title_of(facts)}", ""]
    if facts.leaky:
        md += [f"**{LEAKY_WARNING}**", ""]
    if "synthetic" in str(facts.dataset_label).lower():
        md += [
            "**The dataset is SYNTHETIC** (generated by `musicgenre demo`); these numbers say nothing about real music.",
            "",
        ]
    md += _setup(facts)
    md += ["", "## Results", ""]
    if unseen_figure:
        md += [
            "Accuracy on held-out tracks by artists the model never trained on, the figure to quote:",
            "",
            "![Unseen-artist accuracy](figures/unseen_accuracy.png)",
            "",
        ]
    md += [table_md, ""]
    if stats is not None:
        md += uncertainty_section(results, stats)
    if track_ci_figure:
        md += ["![Track accuracy with 95% intervals](figures/track_accuracy_ci.png)", ""]
    md += [
        "Study acc. is the accuracy the study reported on its leaky random segment split; Segment acc. and "
        "Track acc. are ours on the protocol above"
        + (" (mean ± standard deviation over folds)." if facts.n_splits > 1 else "."),
        "",
        "![Accuracy comparison](figures/accuracy_comparison.png)",
        "",
    ]
    if curves:
        md += ["![Validation curves](figures/validation_curves.png)", ""]
    md += ["## Training choices", "", TRAINING_RATIONALE.strip(), ""]
    md += [CAVEATS]
    md += ["## The four inputs", "", "![Four inputs](figures/four_inputs.png)", ""]
    md += [f"- {n}" for n in (facts.example.notes if facts.example else ())]
    md += ["", "## Per-model figures", ""]
    for r in results:
        s = r.summary
        md += [f"### {r.label} — {s.model} on {' + '.join(s.inputs)}", ""]
        figs = row_figures.get(r.key, RowFigures(()))
        if figs.note:
            md += [figs.note, ""]
        for p, alt in figs.figures:
            md += [f"![{r.label} {alt}]({p.relative_to(out_dir).as_posix()})", ""]
    return "\n".join(md) + "\n"
