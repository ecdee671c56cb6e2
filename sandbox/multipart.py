"""Streaming `multipart/form-data`: file parts go straight to disk, hashed on the way.

The body is read chunk by chunk from the ASGI stream and fed to python-multipart's push parser, so
memory stays flat whatever the upload's size. File bytes are buffered up to `FLUSH_BYTES` and then
written and hashed in a worker thread, so the event loop keeps serving other requests. A file
over the upload cap is not kept: its bytes are counted and dropped, and the caller answers 413.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import trio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from sandbox.errors import bad_request, too_large

log = logging.getLogger(__name__)

FLUSH_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 1024 * 1024  # a text field (caption, reply_markup, ...)
MAX_PARTS = 64


@dataclass
class UploadedPart:
    """A file part of the request, now on disk at `path` (deleted unless the caller keeps it)."""

    name: str
    filename: str
    content_type: str
    path: Path
    size: int = 0
    sha256: str = ""
    too_large: bool = False


@dataclass
class _Sink:
    part: UploadedPart
    limit: int | None
    file: IO[bytes]
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    pending: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> None:
        self.part.size += len(data)
        if self.part.too_large:
            return
        if self.limit is not None and self.part.size > self.limit:
            self.part.too_large = True
            self.pending.clear()
            return
        self.pending += data

    def _write(self, data: bytearray) -> None:
        self.hasher.update(data)
        self.file.write(data)

    async def flush(self) -> None:
        if self.pending:
            data, self.pending = self.pending, bytearray()
            await trio.to_thread.run_sync(self._write, data)

    async def close(self) -> None:
        await self.flush()
        self.file.close()
        self.part.sha256 = self.hasher.hexdigest()
        if self.part.too_large:
            self.part.path.unlink(missing_ok=True)


class MultipartReader:
    def __init__(self, boundary: bytes, incoming: Path, limit: int | None) -> None:
        self.incoming = incoming
        self.limit = limit
        self.fields: dict[str, str] = {}
        self.files: dict[str, UploadedPart] = {}
        self.file_bytes = 0
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._field_name = ""
        self._field: bytearray | None = None
        self._sink: _Sink | None = None
        self._open: list[_Sink] = []  # sinks with bytes to write or a file to close
        self._ended: list[_Sink] = []
        self._parts = 0
        self._error: Exception | None = None
        callbacks = {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_cb,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }
        self._parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    # -- parser callbacks (synchronous; errors are kept and raised after the write) --

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = None
        self._sink = None
        self._parts += 1
        if self._parts > MAX_PARTS and self._error is None:
            self._error = bad_request("too many parts in the request")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._field_name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            self._field = bytearray()
            return
        content_type = self._headers.get(b"content-type", b"application/octet-stream").decode("latin-1")
        path = self.incoming / f"upload-{secrets.token_hex(12)}"
        part = UploadedPart(self._field_name, filename.decode("utf-8", "replace"), content_type, path)
        self._sink = _Sink(part, self.limit, path.open("wb"))
        self._open.append(self._sink)
        self.files[self._field_name] = part

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._sink is not None:
            self._sink.feed(data[start:end])
            self.file_bytes += end - start
        elif self._field is not None:
            if len(self._field) + end - start > MAX_FIELD_BYTES:
                self._error = self._error or too_large()
                return
            self._field += data[start:end]

    def _part_end(self) -> None:
        if self._sink is not None:
            self._ended.append(self._sink)
        elif self._field is not None:
            self.fields[self._field_name] = self._field.decode("utf-8", "replace")

    # -- driving --

    async def _settle(self) -> None:
        for sink in self._open:
            if len(sink.pending) >= FLUSH_BYTES:
                await sink.flush()
        for sink in self._ended:
            await sink.close()
            self._open.remove(sink)
        self._ended.clear()

    async def read(self, chunks: AsyncIterator[bytes]) -> None:
        """Consume the whole body (a too-large file is drained, not kept)."""
        try:
            async for chunk in chunks:
                self._parser.write(chunk)
                await self._settle()
            self._parser.finalize()
            await self._settle()
        except MultipartParseError as exc:
            log.info("malformed multipart body: %s", exc)
            raise bad_request("can't parse multipart/form-data") from None
        if self._error is not None:
            raise self._error

    async def discard(self) -> None:
        """Close and delete every file part (on error, or for the parts nobody used)."""
        for sink in self._open:
            sink.pending.clear()
            sink.file.close()
        self._open.clear()
        for part in self.files.values():
            part.path.unlink(missing_ok=True)


def boundary_of(content_type: str) -> bytes | None:
    mime, options = parse_options_header(content_type)
    if mime != b"multipart/form-data":
        return None
    return options.get(b"boundary")
