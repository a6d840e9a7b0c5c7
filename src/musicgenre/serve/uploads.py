"""Receive uploaded files: parse ``multipart/form-data`` as it streams in, writing each file chunk by chunk
into a folder, and refuse the request as soon as it passes the size limit (nothing is kept in memory)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParseError, MultipartParser, parse_options_header


@dataclass(frozen=True)
class Upload:
    """One uploaded file: ``name`` is the client's file name (used in records and messages), ``path``
    where it was written."""

    name: str
    path: Path


class UploadTooLarge(Exception):
    """The request body is over the limit (HTTP 413)."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            f"upload too large: the limit is {limit_bytes / 1_000_000:g} MB per request (--max-upload-mb)"
        )


class BadUpload(Exception):
    """Not a multipart upload of files (HTTP 400)."""


def client_name(filename: str) -> str:
    """The last component of a client's file name (browsers may send ``C:\\\\dir\\\\x.mp3``), without
    control characters; ``"upload"`` when nothing is left."""
    name = re.split(r"[\\/]", filename)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name if name not in ("", ".", "..") else "upload"


def _disk_name(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    safe = re.sub(r"[^\w.-]", "_", stem)[:100] or "upload"
    if not dot:
        return safe
    return safe + "." + re.sub(r"[^\w]", "_", ext)[:16]


class _Writer:
    """Callbacks for :class:`MultipartParser`: files of field ``field`` go to ``folder/<n>/<name>``."""

    def __init__(self, folder: Path, field: str) -> None:
        self.folder = folder
        self.field = field.encode()
        self.uploads: list[Upload] = []
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._file: IO[bytes] | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._file = None

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != self.field or b"filename" not in options:
            return  # other fields are ignored
        name = client_name(options[b"filename"].decode("utf-8", "replace"))
        where = self.folder / str(len(self.uploads))
        where.mkdir()
        path = where / _disk_name(name)
        self._file = open(path, "wb")  # noqa: SIM115 (closed in _part_end or close)
        self.uploads.append(Upload(name, path))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])

    def _part_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive_files(
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    folder: Path,
    max_bytes: int,
    *,
    field: str = "files",
) -> list[Upload]:
    """Write the files of a multipart request into ``folder`` (one sub-folder each), in order.

    ``headers`` is a mapping of the request's headers (``content-type``, ``content-length``) and ``body``
    its stream of chunks. Raises :class:`UploadTooLarge` on a ``Content-Length`` over ``max_bytes`` before
    reading anything, or as soon as the bytes received pass it; :class:`BadUpload` for a body that is not
    multipart or holds no file under ``field``.
    """
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise UploadTooLarge(max_bytes)
    kind, params = parse_options_header(headers.get("content-type") or "")
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise BadUpload(f"send the audio files as multipart/form-data, under the field name {field!r}")
    writer = _Writer(folder, field)
    parser = MultipartParser(params[b"boundary"], callbacks=writer.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > max_bytes:
                raise UploadTooLarge(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadUpload(f"malformed multipart upload ({exc})") from None
    finally:
        writer.close()
    if not writer.uploads:
        raise BadUpload(f"no files in the upload: send them under the field name {field!r}")
    return writer.uploads
