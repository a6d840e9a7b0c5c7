"""``musicgenre tag FILE``: the top musicnn tags or YAMNet classes of a file over time (see musicgenre.tagging).

``musicgenre yamnet tag`` is this command's YAMNet case (:func:`run_tag`), kept for its own options.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from musicgenre.cli.common import musicnn_weights_option, yamnet_weights_option
from musicgenre.tagging import MODELS  # numpy only: models are imported when a file is tagged

if TYPE_CHECKING:
    from musicgenre.tagging import TagResult


def class_map_option(func: Any) -> Any:
    """``--class-map``: the AudioSet class names of YAMNet (``class_map``)."""
    return click.option(
        "--class-map",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="CSV of AudioSet class names (index,mid,display_name) [default: $MUSICGENRE_YAMNET_CLASS_MAP, the "
        "cached copy, the one beside the weights, <shared>/models/yamnet, else a download of Google's file].",
    )(func)


def span_options(func: Any) -> Any:
    """``--offset`` and ``--duration``: the part of the file that is read."""
    func = click.option("--duration", type=float, default=None, help="Read at most this many seconds.")(func)
    return click.option("--offset", type=float, default=0.0, help="Start reading the file at this time (s).")(
        func
    )


def format_text(result: TagResult, top_k: int, patches_per_row: int) -> str:
    """The text report: header lines, one row per time range, then the whole file."""
    n = result.scores.shape[0]
    lines = [
        f"file:      {result.file} ({result.duration:.2f} s at 16000 Hz from {result.offset:g} s; {n} patches "
        f"of {result.patch_seconds:g} s, hop {result.hop_seconds:g} s)",
        f"model:     {result.model} ({len(result.labels)} tags)",
        f"weights:   {result.weights}",
    ]
    if result.label_source:
        lines.append(f"class map: {result.label_source}")
    if result.note:
        lines.append(f"note:      {result.note}")
    lines += ["", f"{'time (s)':>15}  top {top_k} tags (score)"]
    for row in result.rows(top_k, patches_per_row):
        tags = ", ".join(f"{name} ({score:.2f})" for name, score in row.top)
        lines.append(f"{row.start + result.offset:6.2f} - {row.end + result.offset:6.2f}  {tags}")
    overall = ", ".join(f"{n} ({s:.2f})" for n, s in result.overall(top_k))
    lines += ["", f"{'whole file':>15}  {overall}"]
    return "\n".join(lines)


def run_tag(
    file: Path,
    *,
    model: str,
    top_k: int,
    seconds_per_row: float | None,
    offset: float,
    duration: float | None,
    output_format: str = "text",
    figure: Path | None = None,
    figure_tags: int = 15,
    musicnn_weights: Path | None = None,
    yamnet_weights: Path | None = None,
    class_map: Path | None = None,
) -> None:
    """Tag ``file`` and print the result (the code path of ``musicgenre tag`` and ``musicgenre yamnet tag``)."""
    from musicgenre.fileio import dumps
    from musicgenre.tagging import plot_taggram, tag_file

    result = tag_file(
        file,
        model,
        offset=offset,
        duration=duration,
        musicnn_weights=musicnn_weights,
        yamnet_weights=yamnet_weights,
        class_map=class_map,
    )
    per_row = result.patches_per_row(seconds_per_row)
    if output_format == "json":
        click.echo(dumps(result.to_dict(top_k, per_row)).rstrip("\n"))
    else:
        click.echo(format_text(result, top_k, per_row))
    if figure is not None:
        plot_taggram(result, figure, top_n=figure_tags)
        click.echo(f"wrote {figure}", err=True)


@click.command("tag")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "-m", type=click.Choice(MODELS), default="musicnn-msd", help="Tagger.")
@click.option("--top-k", "-k", type=click.IntRange(1), default=3, help="Tags to show per row.")
@click.option(
    "--seconds-per-row",
    type=click.FloatRange(0.48, None),
    default=None,
    help="Average patch scores over rows of about this length [default: one 3 s patch for musicnn, "
    "0.96 s for yamnet].",
)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--figure",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also draw the taggram (top tags x time) to this file (.png, .pdf, .svg).",
)
@click.option("--figure-tags", type=click.IntRange(1), default=15, help="Tags (by mean score) in the figure.")
@span_options
@musicnn_weights_option
@yamnet_weights_option
@class_map_option
def tag(
    file: Path,
    model: str,
    top_k: int,
    seconds_per_row: float | None,
    output_format: str,
    figure: Path | None,
    figure_tags: int,
    offset: float,
    duration: float | None,
    musicnn_weights: Path | None,
    yamnet_weights: Path | None,
    class_map: Path | None,
) -> None:
    """Print the top tags of FILE over time: musicnn's 50 MSD or MagnaTagATune tags per 3 s patch, or
    YAMNet's 521 AudioSet classes (0.48 s-hop patches averaged over rows). Any format musicgenre decodes,
    resampled to 16 kHz.

    musicnn tags 3 s patches without overlap, as musicnn's own tagger; a tail shorter than 3 s is left out,
    and a file shorter than 3 s is padded with silence (the output says so).
    """
    if model == "yamnet" and seconds_per_row is None:
        seconds_per_row = 0.96
    run_tag(
        file,
        model=model,
        top_k=top_k,
        seconds_per_row=seconds_per_row,
        offset=offset,
        duration=duration,
        output_format=output_format,
        figure=figure,
        figure_tags=figure_tags,
        musicnn_weights=musicnn_weights,
        yamnet_weights=yamnet_weights,
        class_map=class_map,
    )
