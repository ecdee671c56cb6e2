"""The one codec for inline buttons' callback_data: signed, at most 64 bytes, never trusted as is.

Wire format (ASCII): `<action>|<arg>|...|<mac>`. `action` is a name (`[A-Za-z][A-Za-z0-9_]*`);
each arg is an int in decimal (job ids, user ids up to 2**63, negative chat ids) or a token
(`[A-Za-z_][A-Za-z0-9_.:=-]*`, e.g. 'v:720') that cannot be read as an int, so decoding restores
each arg's type. `mac` is HMAC-SHA256 over "cb1|" + everything before it, keyed with 32 random
bytes kept in DATA_DIR/callback.key, cut to 72 bits and written in 12 base64url characters.

What is checked where:
- here: authenticity. `decode` returns None for anything this bot did not make with this key:
  malformed, truncated, altered, forged, made with another key. Compare in constant time.
- in the handlers: freshness. A valid button can be pressed twice, late, or by someone else
  (in a group, or on a forwarded message). The handler checks what the button is about before
  acting: the job exists, belongs to the presser, and is in the state the button was made for;
  otherwise it answers "this button has expired" and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CALLBACK_DATA_MAX = 64  # bytes: Telegram's limit
KEY_FILE = "callback.key"
KEY_BYTES = 32
KEY_MODE = 0o600
MAC_BYTES = 9  # 72 bits; 12 base64url characters, no padding
MAC_CHARS = 12
SEPARATOR = "|"
_DOMAIN = b"cb1|"  # versions the signed text: a format change invalidates old buttons cleanly
_ACTION = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.:=-]*")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_MAC = re.compile(r"[A-Za-z0-9_-]{12}")


class CallbackKeyError(Exception):
    """The key file exists but cannot be trusted or read; the operator must fix or remove it."""


@dataclass(frozen=True)
class Callback:
    action: str
    args: tuple[int | str, ...]

    def int_arg(self, index: int) -> int | None:
        """Argument `index` if it is a number (a job id, a choice), else None."""
        arg = self.args[index] if 0 <= index < len(self.args) else None
        return arg if isinstance(arg, int) else None

    def str_arg(self, index: int) -> str | None:
        arg = self.args[index] if 0 <= index < len(self.args) else None
        return arg if isinstance(arg, str) else None


class CallbackCodec:
    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise ValueError(f"a callback key needs at least {KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> CallbackCodec:
        """The codec with the key in `data_dir/callback.key`, made (mode 0600) on first use."""
        return cls(load_or_create_key(Path(data_dir) / KEY_FILE))

    def encode(self, action: str, *args: int | str) -> str:
        """callback_data for a button; ValueError for a bad action or arg or over 64 bytes."""
        if not _ACTION.fullmatch(action):
            raise ValueError(f"bad callback action {action!r}")
        payload = SEPARATOR.join([action, *map(_arg_text, args)])
        data = payload + SEPARATOR + self._mac(payload)
        if len(data) > CALLBACK_DATA_MAX:  # ASCII only, so characters are bytes
            raise ValueError(f"callback data for {action!r} needs {len(data)} bytes, over {CALLBACK_DATA_MAX}")
        return data

    def decode(self, data: str) -> Callback | None:
        """The action and args of a button this codec made; None for anything else."""
        if not isinstance(data, str) or len(data) > CALLBACK_DATA_MAX or not data.isascii():
            return None
        payload, _, mac = data.rpartition(SEPARATOR)
        if not payload or not _MAC.fullmatch(mac) or not hmac.compare_digest(mac, self._mac(payload)):
            return None
        action, *fields = payload.split(SEPARATOR)
        if not _ACTION.fullmatch(action):
            return None
        args: list[int | str] = []
        for text in fields:
            if _INT.fullmatch(text):
                args.append(int(text))
            elif _TOKEN.fullmatch(text):
                args.append(text)
            else:
                return None
        return Callback(action, tuple(args))

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, _DOMAIN + payload.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:MAC_BYTES]).decode("ascii")


def _arg_text(arg: int | str) -> str:
    if isinstance(arg, bool) or not isinstance(arg, (int, str)):
        raise ValueError(f"a callback arg is an int or a token, not {type(arg).__name__}")
    if isinstance(arg, int):
        return str(arg)
    if not _TOKEN.fullmatch(arg):
        raise ValueError(f"bad callback token {arg!r}")
    return arg


def load_or_create_key(path: Path) -> bytes:
    """The key at `path`; on first use 32 random bytes are written there, mode 0600, atomically
    (a temporary file linked into place), so concurrent first starts agree on one key."""
    if not os.path.lexists(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(KEY_BYTES))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:  # another process made it first: use theirs
                pass
        finally:
            temporary.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise CallbackKeyError(f"{path} must be a regular file; remove it to have a new key made")
    if info.st_mode & 0o077:
        raise CallbackKeyError(
            f"{path} is readable by others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"run `chmod 600 {path}` (or remove it: old buttons then expire)"
        )
    if info.st_size != KEY_BYTES:
        raise CallbackKeyError(f"{path} holds {info.st_size} bytes, not {KEY_BYTES}; remove it to have a new key made")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise CallbackKeyError(f"{path} changed while being read")
    return key


@cache
def codec_for(data_dir: Path) -> CallbackCodec:
    """The process's codec for DATA_DIR (the key file is read once)."""
    return CallbackCodec.from_data_dir(data_dir)
