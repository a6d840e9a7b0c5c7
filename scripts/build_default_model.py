"""Build the bundled default model: choose a study row, train it on all of gtzan-mini, write its card.

    python scripts/build_default_model.py                      # make default-model
    python scripts/build_default_model.py --study runs/gtzan-mini-kfold --row anchored_yamnet

1. Candidates: the rows of the study folder (``--study``, default the exported k-fold study) whose inputs
   are yamnet_embedding and/or musicnn_msd (backbones that ``predict`` resolves at run time) and that have
   held-out predictions on gtzan-excerpts with artist information. They are ranked by accuracy on the
   excerpts by artists the fold models never saw. The best is chosen when it is distinguishable from the
   zero-shot floor (zeroshot_yamnet) there; else the zero-shot row (licence: YAMNet's Apache-2.0 only).
   ``--row KEY`` forces a row.
2. The chosen row (an ensemble: its members first, then the ensemble on their run folders) is trained on
   every track of ``--data`` but a validation set of 2 tracks per genre (seed 0), which picks the best
   epoch, the probe's C, the anchored head's L2-SP strength or the ensemble's temperatures. Study defaults:
   30 epochs, seed 0, 3 s segments of 30 s clips at 16 kHz, segments more than half padding dropped.
3. ``low_confidence``: from the chosen row's held-out decisions on unseen artists
   (:func:`musicgenre.default_model.low_confidence_threshold`), stored in the checkpoint's meta.
4. Writes ``src/musicgenre/bundled/model.ckpt`` and ``MODEL_CARD.md`` (atomically).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STUDY = REPO / "docs" / "results" / "gtzan-mini" / "kfold"
DEFAULT_OUT = REPO / "src" / "musicgenre" / "bundled"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from musicgenre.settings import shared_dir

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--study", type=Path, default=DEFAULT_STUDY, help="study folder to choose from")
    p.add_argument("--data", type=Path, default=shared_dir() / "data" / "gtzan-mini", help="training data")
    p.add_argument("--row", default=None, help="force this study row")
    p.add_argument("--eval-name", default="eval-gtzan-excerpts", help="held-out folder of each row")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where model.ckpt and MODEL_CARD.md go")
    p.add_argument("--work", type=Path, default=None, help="run folders (default: a temporary folder)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-padding", type=float, default=0.5)
    p.add_argument("--valid-per-genre", type=int, default=2)
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--choose-only", action="store_true", help="print the choice and threshold; train nothing")
    return p.parse_args(argv)


def default_split(track_ids: np.ndarray, genres: np.ndarray, per_genre: int, seed: int):
    """Every track trains but ``per_genre`` validation tracks per genre (chosen by ``seed``); no test."""
    from musicgenre.splits import Split

    rng = np.random.default_rng(seed)
    valid: set[str] = set()
    for g in sorted(set(genres.tolist())):
        tracks = sorted(set(track_ids[genres == g].tolist()))
        valid.update(rng.choice(tracks, size=min(per_genre, len(tracks) - 1), replace=False).tolist())
    is_valid = np.isin(track_ids, sorted(valid))
    note = f"all tracks train but {per_genre} validation tracks per genre (seed {seed}); no test side"
    return Split(
        name="default-model",
        protocol="track",
        train=np.flatnonzero(~is_valid).astype(np.int64),
        valid=np.flatnonzero(is_valid).astype(np.int64),
        test=np.zeros(0, dtype=np.int64),
        notes=[note],
    ), sorted(valid)


def train_row(key: str, args: argparse.Namespace, work: Path):
    """Train study row ``key`` (an ensemble: its members first) on all of ``args.data``; its TrainResult."""
    from musicgenre.audio.segment import SegmentConfig
    from musicgenre.experiment import feature_configs_for, prepare_data
    from musicgenre.specs import Runtime, TrainSpec
    from musicgenre.study import STUDY_ROWS
    from musicgenre.training.trainer import train_model

    by_key = {r.key: r for r in STUDY_ROWS}
    row = by_key[key]
    order = [*row.members, key]
    names = list(dict.fromkeys(i for k in order for i in by_key[k].inputs))
    segment = SegmentConfig(max_padding=args.max_padding)
    data = prepare_data(args.data, feature_configs_for(names), segment, Runtime(progress=not args.quiet))
    split, valid_tracks = default_split(data.track_ids, data.genres, args.valid_per_genre, args.seed)
    result = None
    for k in order:
        r = by_key[k]
        spec = TrainSpec(epochs=args.epochs, seed=args.seed, augment=r.augment)
        options = spec.model_options_for(r.model)
        if r.members:
            options["member_dirs"] = [str(work / m) for m in r.members]
        result = train_model(
            r.model,
            {n: data.inputs[n] for n in r.inputs},
            data.labels,
            split,
            label_names=data.label_names,
            feature_configs={n: data.feature_configs[n] for n in r.inputs},
            segment_config=data.segment,
            config=spec.config_for(r.model),
            out_dir=work / k,
            model_options=options,
            meta={"dataset": data.root.name, "study_row": k, "split_notes": split.notes},
            progress=not args.quiet,
        )
    n_tracks = len(set(data.track_ids.tolist()))
    return result, n_tracks, valid_tracks


def main(argv: list[str] | None = None) -> int:
    import torch

    from musicgenre import default_model as dm
    from musicgenre.bundled import CARD_NAME, CHECKPOINT_NAME
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.fileio import write_bytes, write_text
    from musicgenre.study import STUDY_ROWS, ZERO_SHOT_FLOOR

    args = parse_args(argv)
    keys = [r.key for r in STUDY_ROWS if set(r.inputs) <= dm.BACKBONE_INPUTS]
    rows = dm.find_rows(args.study, keys, args.eval_name)
    inputs = {r.key: r.inputs for r in STUDY_ROWS}
    candidates, _ = dm.candidates_from(rows, ZERO_SHOT_FLOOR, inputs=inputs, seed=args.seed)
    sel = dm.choose(candidates, ZERO_SHOT_FLOOR, args.row)
    print(dm.candidate_table(sel))
    print(f"chosen: {sel.chosen} ({sel.reason})")
    held = dict((k, h) for k, _, h in rows)[sel.chosen]
    dec = dm.unseen_decisions(held)
    threshold = dm.low_confidence_threshold(dec.confidence, dec.correct)
    band = dm.band_accuracy(dec.confidence, dec.correct, threshold)
    print(f"low_confidence threshold: {threshold} ({band})")
    if args.choose_only:
        return 0

    with tempfile.TemporaryDirectory(prefix="default-model-") as tmp:
        work = args.work or Path(tmp)
        result, n_tracks, valid_tracks = train_row(sel.chosen, args, work)
        ckpt = load_checkpoint(result.checkpoint_path)
    chosen = next(c for c in sel.candidates if c.key == sel.chosen)
    meta = dict(ckpt.meta)
    meta.pop("train_seconds", None)  # timings would make the file differ from one build to the next
    ckpt.history.pop("epoch_time", None)
    if "ensemble_members" in meta:
        meta["ensemble_members"] = list(next(r for r in STUDY_ROWS if r.key == sel.chosen).members)
    meta["low_confidence"] = threshold if threshold is not None else None
    meta["default_model"] = {
        "study_row": sel.chosen,
        "study": _rel(args.study),
        "reason": sel.reason,
        "unseen_accuracy": chosen.unseen.to_dict(),
        "valid_tracks": valid_tracks,
    }
    if threshold is None:
        meta.pop("low_confidence")
    ckpt.meta = meta
    # Through memory, then written atomically: torch.save names the archive after the file, and the
    # atomic write's temporary name is random, so this keeps two builds byte-identical.
    buf = io.BytesIO()
    torch.save(ckpt.to_payload(), buf)
    out = write_bytes(args.out / CHECKPOINT_NAME, buf.getvalue())
    load_checkpoint(out)  # it loads with weights_only=True
    card = render_card(sel, chosen, dec, threshold, band, meta, ckpt.labels, n_tracks, args)
    write_text(args.out / CARD_NAME, card)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB) and {args.out / CARD_NAME}")
    return 0


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return path.relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


def _f(x: float | None, spec: str = ".3f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def render_card(sel, chosen, dec, threshold, band, meta, labels, n_tracks, args) -> str:
    from musicgenre import default_model as dm
    from musicgenre.study import STUDY_ROWS

    row = next(r for r in STUDY_ROWS if r.key == sel.chosen)
    iv = chosen.unseen
    fit = []
    for key, what in (
        ("best_epoch", "best epoch"),
        ("best_valid_acc", "validation track accuracy"),
        ("probe_c", "probe C"),
        ("l2sp", "L2-SP strength"),
        ("member_temperatures", "member temperatures"),
    ):
        if key in meta and meta[key] is not None:
            v = meta[key]
            v = [round(float(x), 3) for x in v] if isinstance(v, list) else v
            fit.append(f"{what} {round(v, 3) if isinstance(v, float) else v}")
    licence = ["GTZAN (training data): redistribution terms unclear; the official download is gone."]
    if "yamnet_embedding" in row.inputs:
        licence.append("YAMNet (feature backbone, AudioSet classes): Apache-2.0.")
    if "musicnn_msd" in row.inputs:
        licence.append("musicnn (feature backbone, MSD weights): ISC.")
    weights = "YAMNet's weights are found or downloaded as for any checkpoint."
    if "musicnn_msd" in row.inputs:
        weights += " musicnn's weights are not downloaded implicitly: run `musicgenre download musicnn` once."
    zeroshot_only = row.model == "zeroshot_yamnet"
    if zeroshot_only:
        licence.append(
            "This model is the zero-shot head: it maps YAMNet's AudioSet genre classes to GTZAN's genres "
            "and learns nothing from GTZAN, so its only licence is YAMNet's Apache-2.0 (GTZAN's clips "
            "only chose the split and validated it)."
        )
    if threshold is None:
        conf_text = (
            "No confidence band of the held-out decisions was right less than half the time (with at "
            f"least {dm.MIN_BELOW} decisions), so no threshold is stored and `predict` uses its default "
            "(0.35)."
        )
    else:
        conf_text = (
            f"`low_confidence` threshold: **{threshold:.3f}** (stored in the checkpoint's "
            '`meta["low_confidence"]`; `predict` flags results whose top probability is below it). '
            "Definition: the largest top probability t such that the chosen row's held-out decisions on "
            f"unseen artists with a top probability below t (at least {dm.MIN_BELOW} of them) were right "
            f"less than {dm.ACCURACY_BELOW:g} of the time. On those decisions: {band['n_low']} of "
            f"{band['n']} fall below it, with accuracy {_f(band['accuracy_low'], '.2f')}; the rest have "
            f"accuracy {_f(band['accuracy_rest'], '.2f')}."
        )
    calibration = (
        "The ensemble's members are temperature-calibrated on the validation tracks before their "
        "probabilities are averaged."
        if row.members
        else "The probabilities are the model's softmax, not recalibrated."
    )
    return f"""# Model card: musicgenre's bundled default model

Generated by `make default-model` (`scripts/build_default_model.py`). **When a better backbone or head
lands, the script is re-run and this card regenerated.**

## Model

- Study row: **{row.key}** ({row.label}); model `{row.model}` on {", ".join(f"`{i}`" for i in row.inputs)}.
- Members: {", ".join(row.members) if row.members else "none (a single model)"}.
- Labels: {", ".join(labels)}.
- Input: 3 s windows of audio at 16 kHz (predict labels any length in windows and averages them).
- Only the head ships in the package (src/musicgenre/bundled/model.ckpt, loaded with `weights_only=True`); the
  feature backbone (YAMNet; musicnn where used) is resolved at run time as for any checkpoint.
  {weights}

## Training data and licence

- Trained on all {n_tracks} clips of `{Path(args.data).name}` (100 GTZAN clips, 10 per genre, 30 s), with a
  validation set of {args.valid_per_genre} tracks per genre (seed {args.seed}) that chose the
  {"ensemble's temperatures" if row.members else "best epoch / C / L2-SP strength"}; the rest trained.
  Study defaults: {args.epochs} epochs, seed {args.seed}, 3 s segments of 30 s clips, segments more than
  {args.max_padding:g} padding dropped.
- Fit: {"; ".join(fit) or "–"}.
{chr(10).join("- " + x for x in licence)}

## How it was chosen

Candidates: rows of the study `{_rel(args.study)}` on inputs whose backbones are resolved at run time
(yamnet_embedding and/or musicnn_msd), with held-out predictions on gtzan-excerpts. They are ranked by
accuracy on the excerpts by artists the fold models never saw (each track scored by the fraction of fold
models that got it right; 95% bootstrap interval over tracks). The best is chosen if it is distinguishable
from the zero-shot floor (zeroshot_yamnet) on those tracks (paired bootstrap interval of the difference
excludes 0); otherwise the zero-shot head is, because its only licence is YAMNet's Apache-2.0 while GTZAN's
redistribution terms are unclear.
Among rows that cannot be told apart from the best there (and are distinguishable from the floor), one
that needs only YAMNet is preferred to one that also needs musicnn, whose weights are a separate download.

{dm.candidate_table(sel)}

Chosen: **{sel.chosen}**: {sel.reason}.

## Accuracy on excerpts by unseen artists

**{iv.estimate:.3f}** [95% CI {iv.low:.2f}, {iv.high:.2f}] over {iv.n} gtzan-excerpts tracks whose artists
the study's fold models of this row did not train on. These figures are the study's fold models' (each
trained on 4/5 of gtzan-mini); the bundled model is the same recipe trained on all of it, and was not
itself scored on held-out data.

Confusion of those fold models on those tracks (one decision per track and fold model for which its
artist is unseen; {dec.n} decisions):

{dm.confusion_markdown(dec.true, dec.predicted, dec.labels)}

## Confidence

The confidence is the top genre's probability. {calibration}

{conf_text}

The held-out excerpts are 2-3 s long (one window each). On a full song `predict` averages the windows'
probabilities; the top probability of an average is at most the windows' average top probability, so
songs whose windows disagree are flagged more often than single excerpts. The threshold was not tuned on
full songs.

## Limits

- GTZAN's 10 genres only (blues, classical, country, disco, hiphop, jazz, metal, pop, reggae, rock);
  anything else is forced into one of them.
- GTZAN's recordings date up to about 2000; later production styles and genres are out of its range.
- Trained on 100 clips, with a few artists per genre (one artist in four of gtzan-mini's genres), so the
  accuracy above, on unseen artists, is the figure to expect, not the protocol's test accuracy.
"""


if __name__ == "__main__":
    sys.exit(main())
