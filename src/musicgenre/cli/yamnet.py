"""``musicgenre yamnet``: YAMNet tools. ``tag FILE`` prints the top AudioSet classes over time."""

from __future__ import annotations

from pathlib import Path

import click

from musicgenre.cli.tag import class_map_option, run_tag, span_options


@click.group(name="yamnet", context_settings={"show_default": True, "help_option_names": ["-h", "--help"]})
def yamnet() -> None:
    """YAMNet, Google's AudioSet classifier (521 classes), in PyTorch: sanity tools.

    Weights: --weights PATH, else $MUSICGENRE_YAMNET_WEIGHTS, else the cached yamnet.h5, else
    ../shared/models/yamnet/yamnet_int8.tflite, else a download of Google's yamnet.h5.
    """


@yamnet.command("tag")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
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
@class_map_option
@span_options
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
    The same as `musicgenre tag FILE --model yamnet`.
    """
    run_tag(
        file,
        model="yamnet",
        top_k=top_k,
        seconds_per_row=seconds_per_row,
        offset=offset,
        duration=duration,
        yamnet_weights=weights,
        class_map=class_map,
    )
