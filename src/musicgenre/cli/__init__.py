"""The ``musicgenre`` command line: validate, features, train, evaluate, study, predict, tag, demo, download."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from musicgenre import __version__
from musicgenre.audio.segment import SegmentConfig
from musicgenre.cli.common import (
    CONTEXT_SETTINGS,
    FriendlyGroup,
    artists_option,
    clip_seconds_option,
    eval_padding_option,
    feature_choice,
    model_choice,
    overwrite_option,
    quiet_option,
    run_options,
    runtime_options,
    segment_options,
)
from musicgenre.cli.model_info import model_info
from musicgenre.cli.predict import predict
from musicgenre.cli.serve import serve
from musicgenre.cli.tag import tag
from musicgenre.cli.yamnet import yamnet
from musicgenre.specs import HeldOut, ProtocolSpec, Runtime, TrainSpec
from musicgenre.splits import LEAKY_WARNING

if TYPE_CHECKING:
    from musicgenre.experiment import PreparedData
    from musicgenre.results import RunSummary


@click.group(cls=FriendlyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="musicgenre")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Tell the genre of a piece of music, and run honest genre-classification experiments.

    Datasets are folders of genres: DIR/<genre>/<audio files> (GTZAN layout: data/music/<genre>/*.au).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# --------------------------------------------------------------------------------------------- validate
@main.command()
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option(
    "--min-tracks", type=int, default=2, help="Warn about genres with fewer usable tracks than this."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@clip_seconds_option
@quiet_option
def validate(data_dir: Path, min_tracks: int, as_json: bool, clip_seconds: float, quiet: bool) -> None:
    """Check every file of DATA_DIR: unreadable, empty, truncated, silent or non-audio files, thin genres.

    Only the first --clip-seconds of each file are checked, the part that training uses.
    Exits non-zero when there is nothing to classify: no usable track, or usable tracks in one genre only.
    """
    from musicgenre.datasets.validate import validate_dataset
    from musicgenre.fileio import dumps

    report = validate_dataset(
        data_dir, min_tracks_per_genre=min_tracks, progress=not quiet, clip_seconds=clip_seconds or None
    )
    click.echo(dumps(report.to_dict()).rstrip("\n") if as_json else report.format())
    if not report.ok:
        raise SystemExit(1)


# --------------------------------------------------------------------------------------------- features
@main.command()
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option(
    "--feature",
    "-f",
    "features",
    type=feature_choice(),
    multiple=True,
    required=True,
    help="Feature(s) to extract; repeat the option for several.",
)
@segment_options
@runtime_options
def features(
    data_dir: Path,
    features: tuple[str, ...],
    segment: SegmentConfig,
    runtime: Runtime,
) -> None:
    """Extract features of every segment of DATA_DIR into the cache (resumable; both cores by default)."""
    from musicgenre.experiment import feature_configs_for, prepare_data

    configs = feature_configs_for(list(dict.fromkeys(features)), weights=runtime.weights)
    start = time.perf_counter()
    data = prepare_data(data_dir, configs, segment, runtime)
    seconds = time.perf_counter() - start
    n_tracks = len(set(data.track_ids.tolist()))
    click.echo(f"{data.root}: {n_tracks} tracks, {data.n_rows} segments of {segment.segment_seconds:g} s")
    for name, arr in data.inputs.items():
        click.echo(f"  {name:<18} shape {tuple(arr.shape)}  {arr.dtype}  -> {data.store_paths[name]}")
    echo_skipped(data)
    click.echo(f"done in {seconds:.1f} s")


def echo_skipped(data: PreparedData) -> None:
    """List the files the feature stores left out, with their problem (``features``, ``train``, ``study``).

    The stores remember them (``errors.csv``), so they are listed also when the stores are reused from the
    cache, not only when the features were just extracted.
    """
    if not data.errors:
        return
    n = len(data.errors)
    click.echo(
        f"{n} file{'s' if n != 1 else ''} of {data.root} could not be used and {'were' if n != 1 else 'was'} skipped:"
    )
    for path, problem in data.errors:
        click.echo(f"  skipped {data.root / path}: {problem}")


# --------------------------------------------------------------------------------------------- train
@main.command()
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("--model", "-m", type=model_choice(), default="cnn2d", help="Model kind.")
@click.option(
    "--input",
    "-i",
    "inputs",
    type=feature_choice(),
    multiple=True,
    default=["mfcc"],
    help="Input feature(s); repeat for the combined model.",
)
@run_options("--split", tuning=True)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory [default: runs/<model>-<inputs>-<split>].",
)
@segment_options
@runtime_options
@overwrite_option
def train(
    data_dir: Path,
    model: str,
    inputs: tuple[str, ...],
    protocol: ProtocolSpec,
    train: TrainSpec,
    out: Path | None,
    segment: SegmentConfig,
    runtime: Runtime,
) -> None:
    """Train MODEL on cached INPUT features of DATA_DIR, keep the best epoch, and evaluate on the test split.

    Writes model.ckpt, history.json, training_curves.png, metrics.{md,csv,json} and confusion_matrix.png.
    Re-running continues an interrupted run and reuses a finished identical one; a folder holding a run
    with other data or settings is refused (--overwrite replaces it).
    """
    from musicgenre.experiment import run_experiment

    if protocol.name == "segment":
        click.secho(LEAKY_WARNING, fg="yellow", err=True)
    out = out or Path("runs") / f"{model}-{'+'.join(inputs)}-{protocol.name}"
    summary = run_experiment(
        data_dir,
        model,
        list(dict.fromkeys(inputs)),
        out,
        protocol=protocol,
        train=train,
        segment=segment,
        runtime=runtime,
        on_data=echo_skipped,
    )
    click.echo(_summary_line(summary))
    click.echo(f"results in {out}")


def _summary_line(s: RunSummary) -> str:
    def fmt(metric: str) -> str:
        v, sd = s.score(metric)
        if v is None:
            return "n/a"
        return f"{v:.3f}" + (f" ± {sd:.3f}" if sd is not None else "")

    leak = "  [LEAKY segment split]" if s.leaky else ""
    return (
        f"{s.model} on {'+'.join(s.inputs)} ({s.protocol}): track accuracy {fmt('track_accuracy')}, "
        f"segment accuracy {fmt('segment_accuracy')}, macro-F1 {fmt('macro_f1')}{leak}"
    )


# --------------------------------------------------------------------------------------------- evaluate
@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Evaluate on every track of this dataset instead of the run's own test split "
    "(e.g. unseen excerpts).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the metrics [default: RUN_DIR, or RUN_DIR/eval-<data name> with --data].",
)
@eval_padding_option("With --data")
@artists_option
@runtime_options
def evaluate(
    run_dir: Path,
    data_dir: Path | None,
    out: Path | None,
    eval_max_padding: float,
    artists: Path | None,
    runtime: Runtime,
) -> None:
    """Evaluate a trained run: segment- and track-level accuracy, per-genre P/R/F1, confusion matrix."""
    from musicgenre.datasets.artists import optional_artists
    from musicgenre.experiment import evaluate_run

    index = optional_artists(artists) if data_dir is not None else None
    summary = evaluate_run(
        run_dir,
        data_dir=data_dir,
        out_dir=out,
        runtime=runtime,
        eval_max_padding=eval_max_padding,
        artists=index,
    )
    click.echo(_summary_line(summary))
    if index is not None:
        click.echo(_artist_line(Path(summary.out_dir)))
    click.echo(f"metrics in {summary.out_dir}")


def _artist_line(eval_dir: Path) -> str:
    from musicgenre.evaluation.compare import artist_intervals
    from musicgenre.evaluation.stats import read_heldout

    parts = []
    for name, iv in zip(("unseen", "seen"), artist_intervals(read_heldout(eval_dir)), strict=True):
        if iv is not None and iv.n:
            parts.append(f"{name} artists {iv.estimate:.3f} [{iv.low:.2f}, {iv.high:.2f}] (n={iv.n})")
        else:
            parts.append(f"{name} artists: no tracks")
    return "track accuracy on " + "; ".join(parts)


# --------------------------------------------------------------------------------------------- study
@main.command()
@click.argument("data_dir", type=click.Path(path_type=Path))
@run_options("--protocol", tuning=False)
@click.option(
    "--models",
    default=None,
    help="Comma-separated row keys or model kinds to run [default: all rows; see --list].",
)
@click.option("--inputs", default=None, help="Comma-separated inputs; keep only rows using just these.")
@click.option(
    "--eval-data",
    type=click.Path(path_type=Path),
    default=None,
    help="Also evaluate every best checkpoint on this held-out dataset (evaluation only).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=None,
    help="Study directory [default: runs/study-<protocol>].",
)
@eval_padding_option("On --eval-data")
@click.option("--list", "list_rows", is_flag=True, help="List the grid's rows and exit.")
@segment_options
@runtime_options
@overwrite_option
def study(
    data_dir: Path,
    protocol: ProtocolSpec,
    train: TrainSpec,
    models: str | None,
    inputs: str | None,
    eval_data: Path | None,
    eval_max_padding: float,
    out: Path | None,
    list_rows: bool,
    segment: SegmentConfig,
    runtime: Runtime,
) -> None:
    """Run the study's grid of models x inputs on DATA_DIR and write report.md / report.html.

    Finished models are not retrained on a re-run with the same settings (see train; --overwrite).
    """
    from musicgenre.study import STUDY_ROWS, run_study, select_rows

    rows = select_rows(models, inputs)
    if list_rows:
        for r in STUDY_ROWS:
            mark = "*" if r in rows else " "
            ref = f"{r.study_accuracy:.2f}" if r.study_accuracy is not None else "  - "
            click.echo(f"{mark} {r.key:<22} {r.label:<30} study {ref}  {r.model} on {'+'.join(r.inputs)}")
        return
    if protocol.name == "segment":
        click.secho(LEAKY_WARNING, fg="yellow", err=True)
    out = out or Path("runs") / f"study-{protocol.name}"
    report = run_study(
        data_dir,
        out,
        rows=rows,
        protocol=protocol,
        train=train,
        segment=segment,
        runtime=runtime,
        heldout=HeldOut(eval_data, eval_max_padding) if eval_data is not None else None,
        command=_command_line(),
        on_data=echo_skipped,
    )
    click.echo(report.markdown_table)
    click.echo(f"report: {report.path}")


def _command_line() -> str:
    """The command as the user typed it, for reports."""
    import shlex
    import sys

    return shlex.join(["musicgenre", *sys.argv[1:]])


# --------------------------------------------------------------------------------------------- demo
@main.command()
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), default=Path("runs/demo"), help="Output folder."
)
@click.option("--tracks-per-genre", type=click.IntRange(3), default=10, help="Synthetic tracks per genre.")
@click.option("--epochs", type=click.IntRange(1), default=30, help="Training epochs.")
@click.option("--seed", type=int, default=0, help="Seed of the synthetic data, the split and training.")
@quiet_option
def demo(out: Path, tracks_per_genre: int, epochs: int, seed: int, quiet: bool) -> None:
    """End to end on a built-in SYNTHETIC 10-genre dataset: generate, extract, train, evaluate, report.

    The data are synthesised (tempo, rhythm, timbre and harmony differ by genre); the numbers say
    nothing about real music. See `musicgenre study` for real GTZAN.
    """
    from musicgenre.datasets.demo import make_demo_dataset
    from musicgenre.study import run_study, select_rows

    data_dir = make_demo_dataset(
        out / "data", tracks_per_genre=tracks_per_genre, seed=seed, progress=not quiet
    )
    report = run_study(
        data_dir,
        out,
        rows=select_rows("cnn_mfcc,lstm_mfcc", None),
        protocol=ProtocolSpec("track", seed=seed),
        train=TrainSpec(epochs=epochs, seed=seed),
        runtime=Runtime(cache_dir=out / "cache", workers=2, progress=not quiet),
        dataset_label="synthetic demo",
    )
    click.echo(report.markdown_table)
    click.echo(f"SYNTHETIC demo data in {data_dir}; report: {report.path}")


# --------------------------------------------------------------------------------------------- download
@main.command()
@click.argument("dataset", type=click.Choice(["gtzan", "musicnn"]))
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project folder; GTZAN goes to DEST/data/music/<genre>/*.au [default: .]. For musicnn, the weights "
    "folder [default: <weights dir>/musicnn].",
)
@click.option(
    "--url",
    default=None,
    help="Download from this URL (http(s) or file://) instead of the default; for musicnn, a wheel URL or "
    "file instead of `pip download musicnn==0.1.0`.",
)
@click.option("--md5", default=None, help="Expected MD5 of the archive [default: the published one].")
@click.option(
    "--sha256", default=None, help="musicnn: expected SHA-256 of the wheel [default: the published one]."
)
@click.option(
    "--artists-url",
    default=None,
    help="Download GTZAN's artist index (GTZANindex.txt, checked against its SHA-256) from this URL "
    "instead of the default (a pinned commit of seungheondoh/gtzan-bind).",
)
@click.option("--artists-only", is_flag=True, help="Fetch only the artist index, not the audio.")
def download(
    dataset: str,
    dest: Path | None,
    url: str | None,
    md5: str | None,
    sha256: str | None,
    artists_url: str | None,
    artists_only: bool,
) -> None:
    """Download and unpack a dataset (GTZAN, with its artist index) or musicnn's weights, checksum-verified."""
    from musicgenre.datasets.download import DownloadError
    from musicgenre.datasets.gtzan import download_gtzan, download_gtzan_index

    if dataset == "musicnn":
        from musicgenre.musicnn.download import download_musicnn
        from musicgenre.musicnn.weights import WHEEL_SHA256

        folder = download_musicnn(dest, wheel=url, sha256=sha256 or WHEEL_SHA256)
        click.echo(f"musicnn's weights are in {folder}")
        return
    dest = dest if dest is not None else Path(".")
    if not artists_only:
        path = download_gtzan(dest, url=url, md5=md5)
        click.echo(f"GTZAN is in {path}")
    try:
        index = download_gtzan_index(dest, url=artists_url)
    except DownloadError as exc:
        if artists_only:
            raise
        click.echo(f"warning: {exc}; fetch it later with --artists-only [--artists-url URL]", err=True)
        return
    click.echo(f"GTZAN's artist index is {index} (the artist protocol reads it with --artists {index})")


main.add_command(yamnet)
main.add_command(predict)
main.add_command(serve)
main.add_command(tag)
main.add_command(model_info)
