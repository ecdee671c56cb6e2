"""Button data that cannot be forged: `<action>|<args>|<mac>`, at most 64 bytes, HMAC-signed.

(Placeholder until the full codec lands; same interface.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

MAX_BYTES = 64
KEY_FILE = "callback.key"
KEY_BYTES = 32
MAC_BYTES = 9


@dataclass(frozen=True)
class Callback:
    action: str
    args: tuple[str, ...]

    def int_arg(self, index: int) -> int | None:
        try:
            return int(self.args[index])
        except (IndexError, ValueError):
            return None


class CallbackCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> CallbackCodec:
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(KEY_BYTES))
        return cls(path.read_bytes())

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:MAC_BYTES]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, action: str, *args: int | str) -> str:
        body = "|".join([action, *map(str, args)])
        data = f"{body}|{self._mac(body)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {action}")
        return data

    def decode(self, data: str) -> Callback | None:
        body, sep, mac = data.rpartition("|")
        if not sep or not hmac.compare_digest(mac, self._mac(body)):
            return None
        action, *args = body.split("|")
        return Callback(action, tuple(args))


@cache
def codec_for(data_dir: Path) -> CallbackCodec:
    """The process's codec for DATA_DIR (the key file is read once)."""
    return CallbackCodec.from_data_dir(data_dir)
