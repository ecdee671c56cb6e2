"""A multipart/form-data body streamed from open files, with a known length and progress.

httpx would buffer nothing either, but it cannot tell us how far an upload got, and with an
unknown length it falls back to chunked encoding, which some Bot API servers refuse. So the body
is built here: small header blocks around file parts read chunk by chunk, the total length
computed up front, and `progress(file bytes sent, file size)` reported as each chunk is taken by
the transport (the transport asks for the next chunk only after writing the previous one).
"""

from __future__ import annotations

import mimetypes
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

CHUNK_SIZE = 256 * 1024  # bytes read from disk and written to the socket at a time
CRLF = b"\r\n"


class AsyncReadable(Protocol):
    async def read(self, size: int = -1, /) -> bytes: ...


class FileChanged(Exception):
    """A file shrank while it was being uploaded; the declared length can no longer be met."""


@dataclass
class FilePart:
    """One file field: `size` bytes of an open file, sent under `field` as `filename`."""

    field: str
    filename: str
    file: AsyncReadable  # a trio async file, opened and closed by the caller
    size: int
    report: bool = False  # count this part's bytes in the progress


def _quote(value: str) -> str:
    # As browsers do (and httpx): keep UTF-8, escape only what would break the header line.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _content_type(filename: str) -> str:
    guessed, _ = mimetypes.guess_type(filename)
    return guessed or "application/octet-stream"


class MultipartBody:
    """Async-iterable request body; `headers` carries its Content-Type and Content-Length."""

    def __init__(
        self,
        fields: dict[str, str],
        files: list[FilePart],
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.boundary = secrets.token_hex(16)
        self.files = files
        self.progress = progress
        self.total_reported = sum(f.size for f in files if f.report)
        self._field_block = b"".join(self._field(name, value) for name, value in fields.items())
        self._file_heads = [self._file_head(part) for part in files]
        self._tail = b"--" + self.boundary.encode() + b"--" + CRLF
        self.length = (
            len(self._field_block)
            + sum(len(head) + part.size + len(CRLF) for head, part in zip(self._file_heads, files, strict=True))
            + len(self._tail)
        )

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(self.length),
        }

    def _field(self, name: str, value: str) -> bytes:
        head = f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'
        return head.encode() + value.encode() + CRLF

    def _file_head(self, part: FilePart) -> bytes:
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{_quote(part.field)}"; filename="{_quote(part.filename)}"\r\n'
            f"Content-Type: {_content_type(part.filename)}\r\n\r\n"
        ).encode()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        if self.progress is not None:
            self.progress(0, self.total_reported)
        yield self._field_block
        for head, part in zip(self._file_heads, self.files, strict=True):
            yield head
            left = part.size
            while left > 0:
                chunk = await part.file.read(min(CHUNK_SIZE, left))
                if not chunk:
                    raise FileChanged(f"{part.filename} shrank during the upload")
                left -= len(chunk)
                yield chunk
                # The transport came back for more: this chunk is on its way.
                if part.report:
                    sent += len(chunk)
                    if self.progress is not None:
                        self.progress(sent, self.total_reported)
            yield CRLF
        yield self._tail
