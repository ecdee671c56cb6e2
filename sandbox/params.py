"""The parameters of a Bot API call, from the query string and a JSON, form or multipart body.

Values are read the way the Bot API server reads them: numbers may come as text, a malformed
number counts as 0 (so a garbage `chat_id` gives "chat not found", as on Telegram), and object
parameters (reply_markup, allowed_updates, ...) may be JSON text.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import trio
from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from sandbox.errors import bad_request, too_large
from sandbox.multipart import MultipartReader, UploadedPart

MAX_BODY_BYTES = 10 * 1024 * 1024  # a JSON or form body (files come as multipart)
ATTACH_PREFIX = "attach://"
_INTEGER = re.compile(r"^\s*([+-]?\d+)")
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})


class Params:
    def __init__(self, values: dict[str, Any], files: dict[str, UploadedPart]) -> None:
        self.values = values
        self.files = files

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return int(value)
        match = _INTEGER.match(str(value))
        return int(match.group(1)) if match else 0

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        try:
            return float(value) if value not in (None, "") else default
        except (TypeError, ValueError):
            return default

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in TRUE_WORDS if value is not None else False

    def json(self, name: str) -> Any:
        """An object or array parameter, given as JSON or JSON text; None when absent."""
        value = self.values.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                return value  # let the caller word the error
        return value

    def chat_id(self, name: str = "chat_id") -> int | str | None:
        """An integer id or a "@username"; None when absent."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str) and value.strip().startswith("@"):
            return value.strip()
        return self.integer(name)

    def input_file(self, name: str) -> UploadedPart | str | None:
        """An uploaded file part, or a file_id / URL string to re-send; None when absent."""
        if name in self.files:
            return self.files[name]
        value = self.values.get(name)
        if not isinstance(value, str) or not value:
            return None
        if value.startswith(ATTACH_PREFIX):
            part = self.files.get(value[len(ATTACH_PREFIX) :])
            if part is None:
                raise bad_request(f'wrong remote file identifier specified: can\'t find attached file "{value}"')
            return part
        return value


async def _read_small(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large()
    return bytes(body)


async def read_params(
    request: Request, incoming: Path, upload_limit: int | None, upload_rate: int = 0
) -> tuple[Params, int]:
    """The call's parameters and the number of file bytes received; file parts are on disk.
    `upload_rate`: read a multipart body at most that many bytes a second (0: no limit).

    The caller must `cleanup(params)` once done, deleting the file parts it did not keep.
    """
    values: dict[str, Any] = dict(request.query_params)
    mime, options = parse_options_header(request.headers.get("content-type", ""))
    if mime == b"multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise bad_request("can't parse multipart/form-data: no boundary")
        reader = MultipartReader(boundary, incoming, upload_limit)
        try:
            await reader.read(_paced(request.stream(), upload_rate) if upload_rate else request.stream())
        except BaseException:
            await reader.discard()
            raise
        values.update(reader.fields)
        return Params(values, reader.files), reader.file_bytes
    body = await _read_small(request) if request.method != "GET" else b""
    if mime == b"application/json" and body.strip():
        try:
            parsed = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(parsed, dict):
            raise bad_request("can't parse JSON object")
        values.update(parsed)
    elif mime == b"application/x-www-form-urlencoded" and body:
        values.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return Params(values, {}), 0


def cleanup(params: Params) -> None:
    for part in params.files.values():
        part.path.unlink(missing_ok=True)


def ensure_no_oversized(params: Params) -> None:
    if any(part.too_large for part in params.files.values()):
        raise too_large()


async def _paced(chunks: AsyncIterator[bytes], rate: int) -> AsyncIterator[bytes]:
    """The body as it comes, but no faster than `rate` bytes a second."""
    began, seen = trio.current_time(), 0
    async for chunk in chunks:
        seen += len(chunk)
        await trio.sleep_until(began + seen / rate)
        yield chunk
