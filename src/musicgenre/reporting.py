"""The study report: results table (Markdown, CSV, JSON), figures, ``report.md`` and a self-contained HTML.

The report states the protocol and its caveats: GTZAN's known faults and the segment-leakage problem of the
study's original split.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicgenre.evaluation.figures import save_figure
from musicgenre.fileio import atomic_write, write_json, write_text

if TYPE_CHECKING:
    from musicgenre.experiment import PreparedData
    from musicgenre.study import StudyReport

FOUR_INPUTS = ("waveform", "yamnet_embedding", "yamnet_logmel", "mfcc")

COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "Model"),
    ("inputs", "Inputs"),
    ("study_accuracy", "Study acc. (leaky)"),
    ("segment_accuracy", "Segment acc."),
    ("track_accuracy", "Track acc."),
    ("macro_f1", "Macro-F1 (track)"),
    ("heldout_track_accuracy", "Held-out acc."),
    ("n_params", "Params"),
    ("train_seconds", "Train time (s)"),
    ("best_epoch", "Best epoch"),
)


def _fmt(value: Any, std: Any = None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        return text + (f" ± {std:.{digits}f}" if std is not None else "")
    return str(value)


def table_cells(s: dict[str, Any]) -> dict[str, str]:
    """Human-readable cells of one results row."""
    cells = {}
    for key, _ in COLUMNS:
        if key == "inputs":
            cells[key] = " + ".join(s["inputs"])
        elif key == "n_params":
            cells[key] = f"{s['n_params']:,}"
        elif key == "train_seconds":
            cells[key] = f"{s['train_seconds']:.0f}"
        elif key == "best_epoch":
            cells[key] = _fmt(s.get("best_epoch"), s.get("best_epoch_std"), 1)
            if isinstance(s.get("best_epoch"), int):
                cells[key] = f"{s['best_epoch']}/{s['epochs']}"
        elif key == "study_accuracy":
            cells[key] = _fmt(s.get(key), None, 2)
        else:
            cells[key] = _fmt(s.get(key), s.get(f"{key}_std"))
    return cells


def markdown_table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table (columns without any value are left out)."""
    cols = [
        (k, h) for k, h in COLUMNS if any(r.get(k) is not None for r in results) or k in ("label", "inputs")
    ]
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in results:
        cells = table_cells(r)
        lines.append("| " + " | ".join(cells[k] for k, _ in cols) + " |")
    return "\n".join(lines)


def write_tables(out_dir: Path, results: Sequence[dict[str, Any]]) -> dict[str, Path]:
    """``results.md``, ``results.csv`` (raw numbers) and ``results.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "results.md"
    write_text(md, markdown_table(results) + "\n")
    keys = [
        "key",
        "label",
        "model",
        "inputs",
        "protocol",
        "leaky",
        "study_accuracy",
        "segment_accuracy",
        "segment_accuracy_std",
        "track_accuracy",
        "track_accuracy_std",
        "macro_f1",
        "macro_f1_std",
        "heldout_track_accuracy",
        "heldout_track_accuracy_std",
        "heldout_macro_f1",
        "n_params",
        "train_seconds",
        "best_epoch",
        "best_epoch_std",
        "epochs",
    ]
    csv_path = out_dir / "results.csv"
    with atomic_write(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow({**r, "inputs": "+".join(r["inputs"])})
    js = out_dir / "results.json"
    write_json(js, list(results))
    return {"md": md, "csv": csv_path, "json": js}


# ------------------------------------------------------------------------------------------------ figures
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy_comparison(results: Sequence[dict[str, Any]], path: Path, protocol: str) -> Path:
    """Bars of the study's (leaky) accuracy beside our segment- and track-level accuracy, per row.

    Error bars (standard deviation over folds) are drawn only where there is one; a held-out series is
    added when the rows were also evaluated on held-out data.
    """
    plt = _plt()
    labels = [r["label"] for r in results]
    x = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.1 * len(results) + 2), 4.2))
    series = [
        ("study_accuracy", "study (leaky segment split)", "#bbbbbb"),
        ("segment_accuracy", f"ours, segment-level ({protocol})", "#4c72b0"),
        ("track_accuracy", f"ours, track-level ({protocol})", "#dd8452"),
    ]
    if any(r.get("heldout_track_accuracy") is not None for r in results):
        series.append(("heldout_track_accuracy", "ours, track-level on held-out data", "#55a868"))
    width = 0.8 / len(series)
    for j, (key, name, colour) in enumerate(series):
        vals = [r.get(key) if r.get(key) is not None else np.nan for r in results]
        stds = [r.get(f"{key}_std") for r in results]
        errs = [sd or 0.0 for sd in stds] if any(sd is not None for sd in stds) else None
        offset = (j - (len(series) - 1) / 2) * width
        ax.bar(x + offset, vals, width, yerr=errs, label=name, color=colour, capsize=2)
    ax.axhline(0.1, color="k", lw=0.8, ls=":", label="chance (10 genres)")
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.16)  # headroom: the legend sits above the bars, not on them
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="upper center", ncol=len(series) + 1, frameon=False)
    ax.set_title("Genre accuracy per model: the study's numbers and ours")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def pooled_confusion(run_dir: Path, labels: Sequence[str]) -> tuple[np.ndarray, int] | None:
    """Track-level confusion matrix over every fold of a k-fold row (each track is tested once).

    Read from the folds' ``predictions.csv``; returns the matrix and the number of folds, or None when the
    row has no folds.
    """
    from musicgenre.evaluation.metrics import confusion_matrix

    files = sorted(Path(run_dir).glob("fold-*/predictions.csv"))
    if not files:
        return None
    index = {g: i for i, g in enumerate(labels)}
    true, pred = [], []
    for f in files:
        with f.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["true"] in index and row["predicted"] in index:
                    true.append(index[row["true"]])
                    pred.append(index[row["predicted"]])
    return confusion_matrix(np.array(true), np.array(pred), len(labels)), len(files)


def plot_validation_curves(results: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Validation accuracy per epoch of every model (first fold under k-fold) on one figure."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for r in results:
        hist_files = sorted(Path(r["run_dir"]).glob("**/history.json"))
        if not hist_files:
            continue
        hist = json.loads(hist_files[0].read_text())
        va = hist.get("valid_acc") or []
        if va:
            ax.plot(range(1, len(va) + 1), va, label=r["label"])
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (segments)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("Training: validation accuracy per epoch")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def example_inputs(data: PreparedData, track_id: str) -> tuple[dict[str, np.ndarray], str, list[str]]:
    """One segment's four inputs for ``track_id``, computing any the study did not cache.

    Returns the arrays, a caption, and notes on inputs that could not be computed (e.g. no YAMNet weights).
    """
    from musicgenre.audio.io import load_audio
    from musicgenre.audio.segment import split_segments
    from musicgenre.datasets.index import scan_dataset
    from musicgenre.errors import MusicGenreError
    from musicgenre.features.registry import extract_many, make_config

    track = next(t for t in scan_dataset(data.root).tracks if t.track_id == track_id)
    segs = split_segments(load_audio(track.path, data.segment.sample_rate), data.segment)
    seg_i = 1 if len(segs) > 1 and segs.padding[1] < 0.5 else 0
    seg = segs.samples[seg_i : seg_i + 1]
    arrays: dict[str, np.ndarray] = {"waveform": seg[0]}
    notes: list[str] = []
    wanted = [make_config(n) for n in FOUR_INPUTS if n != "waveform"]
    for cfg in wanted:
        try:
            arrays[cfg.name] = extract_many([cfg], seg, data.segment.sample_rate)[cfg.key()][0]
        except (MusicGenreError, KeyError) as exc:
            notes.append(f"{cfg.name}: not shown ({exc})")
    caption = f"{track.genre} track {track.track_id}, segment {int(segs.index[seg_i])} ({data.segment.segment_seconds:g} s)"
    return arrays, caption, notes


def plot_four_inputs(arrays: dict[str, np.ndarray], caption: str, path: Path, sample_rate: int) -> Path:
    """The study's four example figures in one: waveform, YAMNet embedding, log-mel spectrogram, MFCC."""
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    titles = {
        "waveform": "Waveform (16 kHz)",
        "yamnet_embedding": "YAMNet embeddings (patches x 1024)",
        "yamnet_logmel": "YAMNet log-mel spectrogram (frames x 64 bands)",
        "mfcc": "MFCC (frames x 20 coefficients)",
    }
    for ax, name in zip(axes.ravel(), FOUR_INPUTS, strict=True):
        ax.set_title(titles[name], fontsize=10)
        arr = arrays.get(name)
        if arr is None:
            ax.text(0.5, 0.5, "not available", ha="center", va="center")
            ax.set_axis_off()
            continue
        if name == "waveform":
            t = np.arange(arr.shape[0]) / sample_rate
            ax.plot(t, arr, lw=0.4)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("amplitude")
        else:
            im = ax.imshow(arr.T, aspect="auto", origin="lower", interpolation="nearest", cmap="magma")
            ax.set_xlabel("embedding patch" if name == "yamnet_embedding" else "frame")
            ax.set_ylabel(
                {"yamnet_embedding": "dimension", "yamnet_logmel": "mel band", "mfcc": "coefficient"}[name]
            )
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(f"The four inputs of one segment: {caption}", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------------ report
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


def _img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def markdown_to_html(md: str, base: Path, title: str) -> str:
    """A small Markdown-to-HTML conversion for our own report (headings, lists, tables, images, code)."""
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    in_list = False

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
        text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
        return re.sub(r"\[(.+?)\]\((.+?)\)", r'<a href="\2">\1</a>', text)

    while i < len(lines):
        line = lines[i]
        img = re.match(r"!\[(.*?)\]\((.+?)\)", line.strip())
        if in_list and not line.startswith(("- ", "  ")):
            out.append("</ul>")
            in_list = False
        if line.startswith("```"):
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(html.escape(lines[i]))
                i += 1
            out.append("<pre><code>" + "\n".join(block) + "</code></pre>")
        elif img:
            p = base / img.group(2)
            out.append(f"<p>{_img_tag(p, img.group(1))}</p>" if p.exists() else "")
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            head, body = rows[0], [r for r in rows[2:]]
            out.append(
                "<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr></thead>"
            )
            out.append(
                "<tbody>"
                + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in body)
                + "</tbody></table>"
            )
            continue
        elif line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            item = line[2:]
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                item += " " + lines[i].strip()
            out.append(f"<li>{inline(item)}</li>")
        elif line.strip():
            para = line
            while (
                i + 1 < len(lines)
                and lines[i + 1].strip()
                and not lines[i + 1].startswith(("#", "|", "- ", "!", "```"))
            ):
                i += 1
                para += " " + lines[i].strip()
            out.append(f"<p>{inline(para)}</p>")
        i += 1
    if in_list:
        out.append("</ul>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#f3f3f3}code{background:#f6f6f6;padding:0 3px}pre{background:#f6f6f6;padding:8px;overflow:auto}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
    )


def _training_text() -> str:
    try:
        from musicgenre.training.trainer import TRAINING_RATIONALE
    except ImportError:  # pragma: no cover
        return ""
    return TRAINING_RATIONALE


def write_study_report(
    out_dir: Path, results: list[dict[str, Any]], facts: dict[str, Any], data: PreparedData
) -> StudyReport:
    """Write the tables, figures, ``report.md`` and ``report.html`` of a finished study."""
    from musicgenre.evaluation.figures import plot_confusion_matrices
    from musicgenre.study import StudyReport

    out_dir.mkdir(parents=True, exist_ok=True)
    fig_dir = out_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    tables = write_tables(out_dir, results)
    table_md = tables["md"].read_text().strip()
    plot_accuracy_comparison(results, fig_dir / "accuracy_comparison.png", facts["protocol"])
    curves = plot_validation_curves(results, fig_dir / "validation_curves.png")
    notes: list[str] = []
    if facts.get("example_track"):
        arrays, caption, notes = example_inputs(data, facts["example_track"])
        plot_four_inputs(arrays, caption, fig_dir / "four_inputs.png", data.segment.sample_rate)
    leaky = facts["leaky"]
    title = f"musicgenre study on {facts['dataset_label']} — protocol: {facts['protocol']}" + (
        " (LEAKY)" if leaky else ""
    )
    md: list[str] = [f"# {title}", ""]
    if leaky:
        from musicgenre.splits import LEAKY_WARNING

        md += [f"**{LEAKY_WARNING}**", ""]
    if "synthetic" in str(facts["dataset_label"]).lower():
        md += [
            "**The dataset is SYNTHETIC** (generated by `musicgenre demo`); these numbers say nothing about real music.",
            "",
        ]
    md += [
        "## Setup",
        "",
        f"- Dataset: `{facts['data_dir']}` — {facts['n_tracks']} tracks, {facts['n_segments']} segments, "
        f"genres: {', '.join(facts['genres'])}.",
        f"- Segments: {facts['segment']['segment_seconds']:g} s at {facts['segment']['sample_rate']} Hz; clips cut "
        f"or zero-padded to {facts['segment']['clip_seconds']} s; "
        + (
            "all segments kept, padding included (as the study)."
            if facts["segment"].get("max_padding") is None
            else f"segments more than {facts['segment']['max_padding']:.0%} padding dropped."
        ),
        f"- Protocol: `{facts['protocol']}` ({facts['n_splits']} split(s)); "
        + "; ".join(facts["split_notes"]),
        f"- Segments per side (first split): {facts['split_sizes'][0]}.",
        f"- Training: {facts['epochs']} epochs per model, best epoch by validation accuracy, seed {facts['seed']}.",
    ]
    if facts.get("eval_data"):
        md.append(
            f"- Held-out evaluation: every best checkpoint also labels `{facts['eval_data']}` "
            "(tracks in no training split; evaluation only): column *Held-out acc.* (track level)"
            + (
                f"; segments more than {facts['eval_max_padding']:.0%} padding dropped there."
                if facts.get("eval_max_padding") is not None
                else "."
            )
        )
    if facts.get("skipped_files"):
        md.append(
            f"- Skipped files: {len(facts['skipped_files'])} — "
            + "; ".join(f"{p}: {e}" for p, e in facts["skipped_files"][:10])
        )
    if facts.get("command"):
        md += ["", "Command:", "", "```", facts["command"], "```"]
    md += ["", "## Results", "", table_md, ""]
    md += [
        "Study acc. is the accuracy the study reported on its leaky random segment split; Segment acc. and "
        "Track acc. are ours on the protocol above"
        + (" (mean ± standard deviation over folds)." if facts["protocol"] == "kfold" else "."),
        "",
        "![Accuracy comparison](figures/accuracy_comparison.png)",
        "",
    ]
    if curves:
        md += ["![Validation curves](figures/validation_curves.png)", ""]
    rationale = _training_text()
    if rationale:
        md += ["## Training choices", "", rationale.strip(), ""]
    md += [CAVEATS]
    md += ["## The four inputs", "", "![Four inputs](figures/four_inputs.png)", ""]
    md += [f"- {n}" for n in notes]
    md += ["", "## Per-model figures", ""]
    for r in results:
        run = Path(r["run_dir"])
        first = run / "fold-1" if (run / "fold-1").exists() else run
        md += [f"### {r['label']} — {r['model']} on {' + '.join(r['inputs'])}", ""]
        figures = [(first / "training_curves.png", "training curves")]
        pooled = pooled_confusion(run, facts["genres"])
        if pooled is not None:
            cm, n_folds = pooled
            path = run / "confusion_matrix_all_folds.png"
            sub = f"track level, all {n_folds} folds ({int(cm.sum())} tracks)"
            plot_confusion_matrices([(cm, sub)], facts["genres"], path, title=r["label"])
            figures.append((path, "confusion matrix (all folds)"))
            md += ["Training curves of fold 1; confusion matrix of every fold's test tracks together.", ""]
        else:
            figures.append((first / "confusion_matrix.png", "confusion matrix"))
        for p, alt in figures:
            if p.exists():
                rel = p.relative_to(out_dir)
                md += [f"![{r['label']} {alt}]({rel.as_posix()})", ""]
    report_md = "\n".join(md) + "\n"
    write_text(out_dir / "report.md", report_md)
    write_text(out_dir / "report.html", markdown_to_html(report_md, out_dir, title))
    return StudyReport(path=out_dir / "report.md", markdown_table=table_md, rows=results)
