"""The web app: ``create_app(classifier, settings)`` gives a FastAPI application serving the page at ``/``,
``POST /api/predict``, ``GET /api/model``, ``GET /healthz`` and ``/openapi.json``.

The interactive ``/docs`` and ``/redoc`` pages are disabled: they load their scripts from a CDN, and the
server must work offline; ``/openapi.json`` describes the API.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from musicgenre import __version__
from musicgenre.errors import AudioError, MusicGenreError, UnsupportedFormatError
from musicgenre.predict.output import to_records
from musicgenre.predict.results import PredictionResult
from musicgenre.serve.model import Labeller, model_info
from musicgenre.serve.pool import InferencePool, PoolFull
from musicgenre.serve.settings import ServeSettings
from musicgenre.serve.uploads import BadUpload, Upload, UploadTooLarge, receive_files

STATIC_DIR = Path(__file__).parent / "static"

#: ``POST /api/predict``'s body, for the OpenAPI description (the body is parsed as it streams in).
_UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


class FileProblem(Exception):
    """An uploaded file that cannot be labelled: ``status`` (415 or 422) and the one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def label_uploads(classifier: Labeller, uploads: Sequence[Upload]) -> list[PredictionResult]:
    """Label the uploaded files in order (on a worker thread); results and messages name each file by its
    client name. The first file that cannot be used raises :class:`FileProblem`."""
    results = []
    for up in uploads:
        try:
            result = classifier.predict(up.path)
        except UnsupportedFormatError as exc:
            raise FileProblem(415, str(AudioError(up.name, _hide(exc.problem, up)))) from None
        except AudioError as exc:
            raise FileProblem(422, str(AudioError(up.name, _hide(exc.problem, up)))) from None
        except MusicGenreError as exc:
            raise FileProblem(422, f"{up.name}: {_hide(str(exc), up)}") from None
        results.append(dataclasses.replace(result, path=up.name))
    return results


def _hide(text: str, up: Upload) -> str:
    """The message without the server's temporary path."""
    return text.replace(str(up.path), up.name)


def create_app(classifier: Labeller, settings: ServeSettings | None = None) -> FastAPI:
    """The app for one loaded ``classifier`` (see :class:`~musicgenre.serve.settings.ServeSettings`)."""
    settings = settings or ServeSettings()
    pool = InferencePool(settings.workers, settings.queue)
    info = model_info(classifier)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(
        title="musicgenre",
        version=__version__,
        description="Label the genre of uploaded audio files.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "index.html",
            headers={"Content-Security-Policy": "default-src 'self'; img-src 'self' data:"},
        )

    @app.get("/healthz")
    async def healthz() -> dict:
        """Liveness: answers while files are being labelled."""
        return {"status": "ok", "in_progress": pool.admitted, "capacity": pool.capacity}

    @app.get("/api/model")
    async def model() -> dict:
        """The model: ``model_id``, ``labels`` (output order), ``window_seconds``, ``model_card`` (text or
        null)."""
        return dataclasses.asdict(info)

    @app.post("/api/predict", openapi_extra=_UPLOAD_SCHEMA)
    async def predict(request: Request) -> JSONResponse:
        """Label the files uploaded under ``files``: one record per file, as ``musicgenre predict --format
        json --windows``. Errors: 400 no files, 413 too large, 415 unsupported format, 422 not audio or
        corrupt (the detail names the file), 503 busy (``Retry-After``)."""
        try:
            ticket = pool.admit()
        except PoolFull as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": str(settings.retry_after)}) from None
        with ticket, tempfile.TemporaryDirectory(prefix="musicgenre-upload-") as tmp:
            try:
                uploads = await receive_files(
                    request.headers, request.stream(), Path(tmp), settings.max_upload_bytes
                )
            except UploadTooLarge as exc:
                raise HTTPException(413, str(exc)) from None
            except BadUpload as exc:
                raise HTTPException(400, str(exc)) from None
            except ClientDisconnect:
                raise HTTPException(400, "the client went away during the upload") from None
            try:
                results = await pool.run(label_uploads, classifier, uploads)
            except FileProblem as exc:
                raise HTTPException(exc.status, str(exc)) from None
        return JSONResponse(to_records(results, settings.top_k, windows=True))

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
