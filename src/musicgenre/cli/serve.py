"""``musicgenre serve``: the web page and HTTP API (FastAPI under uvicorn), with one model loaded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from musicgenre.cli.common import CONTEXT_SETTINGS


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--model",
    "-m",
    type=click.Path(path_type=Path),
    default=None,
    help="A run folder or model.ckpt [default: the bundled model; see `musicgenre model-info`].",
)
@click.option("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, help="Port to listen on.")
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(0.0, min_open=True),
    default=100.0,
    help="Largest upload accepted per request, in MB; larger ones are refused (413) while streaming.",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, help="Inference threads (files labelled at once)."
)
@click.option(
    "--queue",
    type=click.IntRange(0),
    default=4,
    help="Requests that may wait for a worker; more are refused with 503 and Retry-After.",
)
def serve(model: Path | None, host: str, port: int, max_upload_mb: float, workers: int, queue: int) -> None:
    """Serve a web page and an HTTP API that label uploaded audio files.

    The page is at http://HOST:PORT/ ; the API: POST /api/predict (multipart, field 'files'; the records
    of `predict --format json --windows`), GET /api/model, GET /healthz, GET /openapi.json.
    Uploads are written to a temporary folder and deleted after each request; nothing is stored.
    """
    import uvicorn

    from musicgenre.serve.app import create_app
    from musicgenre.serve.settings import ServeSettings

    settings = ServeSettings(host=host, port=port, max_upload_mb=max_upload_mb, workers=workers, queue=queue)
    classifier = load_model(model)
    if settings.public:
        click.secho(
            f"warning: listening on {host}, every network interface: anyone who can reach this machine can "
            "upload files to it",
            fg="yellow",
            err=True,
        )
    click.echo(f"musicgenre serve: {classifier.model_id} on http://{_url_host(host)}:{port}/", err=True)
    uvicorn.run(create_app(classifier, settings), host=host, port=port, log_level="info")


def load_model(model: Path | None) -> Any:
    """The classifier of ``--model``, or the bundled default model (``musicgenre.load()``) without it."""
    import musicgenre

    return musicgenre.load(model)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
