"""``musicgenre predict [--model PATH] PATH...``: label audio files and folders with a trained model.

Without ``--model`` the bundled default model labels them. The older form ``predict CHECKPOINT PATH...``
still works when it is unambiguous: two or more positionals, the first a ``.ckpt`` file or a folder
holding ``model.ckpt``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from musicgenre.cli.common import CONTEXT_SETTINGS, device_option, quiet_option, yamnet_weights_option

FORMATS = ("table", "json", "csv")


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    "-m",
    "checkpoint",
    type=click.Path(path_type=Path),
    default=None,
    help="A training run folder or model.ckpt [default: the bundled model; see `musicgenre model-info`].",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    help="Output: a readable table, or one JSON/CSV record per file (top genre, probabilities, "
    "duration, windows, model id, flags, error).",
)
@click.option(
    "--top-k", type=click.IntRange(1), default=3, help="How many of the most likely genres to list."
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the JSON/CSV records to this file (format from --format, else from the .json/.csv "
    "extension); the table still goes to the terminal.",
)
@click.option(
    "--timeline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Save a figure of genre probabilities over time, e.g. out.png. With several files: one figure "
    "each, named out-<file name>.png.",
)
@click.option(
    "--hop",
    type=click.FloatRange(0.0, min_open=True),
    default=None,
    help="Seconds between window starts [default: the window length, i.e. back-to-back windows].",
)
@click.option(
    "--aggregate",
    type=click.Choice(["mean", "vote"]),
    default="mean",
    help="Track-level genre: mean of window probabilities, or majority vote of windows.",
)
@click.option("--batch-size", type=click.IntRange(1), default=32, help="Windows per model call.")
@click.option(
    "--windows",
    is_flag=True,
    help="JSON: also list every window's start, top genre, probability and silent flag (as `serve`'s API).",
)
@yamnet_weights_option
@device_option
@quiet_option
@click.option("--debug", is_flag=True, help="Show full tracebacks (same as `musicgenre --debug predict`).")
@click.pass_context
def predict(
    ctx: click.Context,
    paths: tuple[Path, ...],
    checkpoint: Path | None,
    fmt: str,
    top_k: int,
    out: Path | None,
    timeline: Path | None,
    hop: float | None,
    aggregate: str,
    batch_size: int,
    windows: bool,
    yamnet_weights: Path | None,
    device: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Label the genre of audio files and folders (recursive), with the bundled model or --model.

    --model is a model.ckpt file or a training run folder; without it the bundled default model is used
    (`musicgenre model-info` shows its card). The older form `predict CHECKPOINT PATH...` still works when
    the first of two or more paths is a .ckpt file or a folder holding model.ckpt. Formats: wav, au, aiff, flac, ogg, mp3;
    m4a/aac with the optional FFmpeg decoder (pip install 'musicgenre[ffmpeg]'). Any sample rate, channel
    count and length: files are decoded in blocks and classified in windows of the model's segment
    length, and the window probabilities are aggregated per file.

    Files that cannot be used are listed with their problem and the rest are labelled; the exit code is
    1 when any file failed, 2 when nothing could run (e.g. a bad checkpoint).
    """
    # Before torch (and its OpenMP runtime) is first imported: idle OpenMP threads sleep instead of
    # spinning. On a busy machine spinning threads fight the other work for the cores, and a 3-minute mp3
    # took 5.5 s of model time instead of 0.5 s on the loaded 2-core machine of BENCHMARKS.md (see "Cold
    # predict"). Set OMP_WAIT_POLICY yourself to override.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    from musicgenre.fileio import write_text
    from musicgenre.predict import output
    from musicgenre.predict.classifier import GenreClassifier
    from musicgenre.predict.files import collect_audio_files, output_clash, protected_paths

    root = ctx.find_root()
    if root.obj is None:
        root.obj = {}
    if debug:
        root.obj["debug"] = True
    debug = bool(root.obj.get("debug"))

    record_fmt = fmt
    if out is not None and fmt == "table":
        ext = out.suffix.lower().lstrip(".")
        if ext not in ("json", "csv"):
            raise click.BadParameter(
                "give --format json|csv, or a file name ending in .json or .csv", param_hint="--out"
            )
        record_fmt = ext

    checkpoint, paths = model_and_paths(checkpoint, paths)
    if checkpoint is None:
        from musicgenre.bundled import default_checkpoint

        checkpoint = default_checkpoint()
    clf = GenreClassifier.from_checkpoint(
        checkpoint, hop_seconds=hop, aggregate=aggregate, batch_size=batch_size, yamnet_weights=yamnet_weights,
        device=device.lower(),
    )  # fmt: skip
    files, failures = collect_audio_files(paths)
    protected = protected_paths(files, clf.checkpoint_path)
    for hint, dest in (("--out", out), ("--timeline", timeline)):
        clash = output_clash(dest, protected) if dest is not None else None
        if clash:
            raise click.BadParameter(clash, param_hint=hint)

    items: list = list(failures)
    bar = None
    if not quiet and len(files) >= 2:  # tqdm is imported only here: one file is the common, cold case
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="file", desc="predict", file=sys.stderr, leave=False)
    try:
        for item in clf.predict_many(files, unexpected="raise" if debug else "collect"):
            items.append(item)
            if bar is not None:
                bar.update(1)
            if not item.ok and debug:
                (bar.write if bar is not None else click.echo)(f"error: {item.message}", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    # Failures of paths given on the command line (missing, empty folder) first, then files in order.
    order = {str(p): i for i, p in enumerate(files)}
    items.sort(key=lambda it: (it.path in order, order.get(it.path, -1)))

    records = None
    if record_fmt == "json":
        records = output.to_json(items, top_k, windows=windows)
    elif record_fmt == "csv":
        records = output.to_csv(items, clf.labels, top_k)

    if out is not None:
        write_text(out, records or "")
    if fmt == "table" or out is not None:
        click.echo(output.format_table(items, top_k))
    else:
        click.echo(records, nl=False)

    if timeline is not None:
        dests = output.timeline_paths(timeline, items)
        clashes = [c for c in (output_clash(d, protected) for d in dests.values()) if c]
        if clashes:
            raise click.BadParameter("; ".join(clashes), param_hint="--timeline")
        for i, dest in dests.items():
            output.plot_timeline(items[i], dest)
            if fmt == "table" or out is not None:
                click.echo(f"timeline: {dest}")

    n_ok = sum(1 for it in items if it.ok)
    if out is not None:
        click.echo(f"wrote {len(items)} records to {out}")
    failed = output.format_failures(items)
    if failed:
        click.echo(failed, err=True)
    if not quiet and (fmt == "table" or out is not None) and len(items) > 1:
        click.echo(f"{n_ok} of {len(items)} labelled with {clf.model_id}", err=True)
    if n_ok < len(items):
        ctx.exit(1)


def looks_like_checkpoint(path: Path) -> bool:
    """A ``.ckpt`` file name (whether or not it exists), or a folder holding ``model.ckpt``."""
    return path.suffix.lower() == ".ckpt" or (path.is_dir() and (path / "model.ckpt").is_file())


def model_and_paths(model: Path | None, paths: tuple[Path, ...]) -> tuple[Path | None, tuple[Path, ...]]:
    """``(--model, audio paths)``, reading the older ``CHECKPOINT PATH...`` form when it is unambiguous:
    no ``--model``, two or more positionals, the first :func:`looks_like_checkpoint`. A lone positional
    that looks like a checkpoint is refused (nothing to label)."""
    if model is not None:
        return model, paths
    if len(paths) >= 2 and looks_like_checkpoint(paths[0]):
        return paths[0], paths[1:]
    if len(paths) == 1 and looks_like_checkpoint(paths[0]):
        raise click.UsageError(
            f"{paths[0]} is a checkpoint, not audio: give the files to label after it, or use --model PATH"
        )
    return None, paths
