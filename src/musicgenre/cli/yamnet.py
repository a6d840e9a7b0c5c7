"""``musicgenre yamnet``: YAMNet tools. ``tag FILE`` prints the top AudioSet classes over time."""

from __future__ import annotations

from pathlib import Path

import click


@click.group(name="yamnet", context_settings={"show_default": True, "help_option_names": ["-h", "--help"]})
def yamnet() -> None:
    """YAMNet, Google's AudioSet classifier (521 classes), in PyTorch: sanity tools.

    Weights: --weights PATH, else $MUSICGENRE_YAMNET_WEIGHTS, else the cached yamnet.h5, else
    ../shared/models/yamnet/yamnet_int8.tflite, else a download of Google's yamnet.h5.
    """


@yamnet.command("tag")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--weights",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="YAMNet weights: Google's yamnet.h5 or yamnet_int8.tflite [default: resolved, see above].",
)
@click.option("--top-k", "-k", type=click.IntRange(1, 521), default=3, help="Classes to show per row.")
@click.option(
    "--seconds-per-row",
    type=click.FloatRange(0.48, None),
    default=0.96,
    help="Average the 0.48 s-hop patch scores over rows of about this length.",
)
@click.option(
    "--class-map",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV of AudioSet class names (index,mid,display_name) [default: $MUSICGENRE_YAMNET_CLASS_MAP, the "
    "cached copy, the one beside the weights, <shared>/models/yamnet, else a download of Google's file].",
)
@click.option("--offset", type=float, default=0.0, help="Start reading the file at this time (s).")
@click.option("--duration", type=float, default=None, help="Read at most this many seconds.")
def tag(
    file: Path,
    weights: Path | None,
    top_k: int,
    seconds_per_row: float,
    class_map: Path | None,
    offset: float,
    duration: float | None,
) -> None:
    """Print the top AudioSet classes of FILE over time (any format musicgenre decodes, resampled to 16 kHz).

    A sanity tool: music should score "Music" and instrument or genre classes, speech "Speech", etc.
    """
    import numpy as np

    from musicgenre.audio.io import load_audio
    from musicgenre.yamnet import params as P
    from musicgenre.yamnet.model import get_model
    from musicgenre.yamnet.tagging import load_class_names, resolve_class_map, tag_rows, top_classes

    model = get_model(weights)
    source = model.weights_source
    map_path = resolve_class_map(class_map, weights=source.path if source else None)
    names = load_class_names(map_path)
    audio = load_audio(file, P.SAMPLE_RATE, offset=offset, duration=duration)
    scores = model.infer(audio).scores[0].numpy()
    seconds = audio.shape[0] / P.SAMPLE_RATE
    hop = P.PATCH_HOP_SAMPLES / P.SAMPLE_RATE
    per_row = max(1, int(round(seconds_per_row / hop)))

    click.echo(f"file:      {file} ({seconds:.2f} s at {P.SAMPLE_RATE} Hz, {scores.shape[0]} patches)")
    click.echo(
        f"weights:   {model.weights_source.describe() if model.weights_source else model.weights_kind}"
    )
    click.echo(f"class map: {map_path} ({len(names)} classes)")
    click.echo("")
    click.echo(f"{'time (s)':>15}  top {top_k} classes (score)")
    for row in tag_rows(scores, names, top_k=top_k, patches_per_row=per_row, duration=seconds):
        classes = ", ".join(f"{name} ({score:.2f})" for name, score in row.top)
        click.echo(f"{row.start:6.2f} - {row.end:6.2f}  {classes}")
    overall = ", ".join(f"{n} ({s:.2f})" for n, s in top_classes(np.mean(scores, axis=0), names, top_k))
    click.echo("")
    click.echo(f"{'whole file':>15}  {overall}")
