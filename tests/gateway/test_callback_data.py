"""The callback_data codec: round trips, the 64-byte bound, tampering, other keys, the key file."""

from __future__ import annotations

import os
import stat
import string
from pathlib import Path
from typing import Any

import pytest

from core.callback_data import (
    CALLBACK_DATA_MAX,
    KEY_BYTES,
    KEY_FILE,
    Callback,
    CallbackCodec,
    CallbackKeyError,
)

BIGGEST = 2**63
CHARSET = string.ascii_letters + string.digits + "|-_:.=~"


@pytest.fixture
def codec(tmp_path: Path) -> CallbackCodec:
    return CallbackCodec.from_data_dir(tmp_path)


def test_round_trip_with_the_largest_args(codec: CallbackCodec):
    cases = [
        ("cancel", (BIGGEST,)),
        ("fmt", (BIGGEST - 1, BIGGEST, "v:1080")),
        ("pick", (-1001234567890, 0, "a:m4a")),
        ("lang", ("fa",)),
        ("noop", ()),
    ]
    for action, args in cases:
        data = codec.encode(action, *args)
        assert len(data.encode()) <= CALLBACK_DATA_MAX
        assert codec.decode(data) == Callback(action, args)
    # the int and the token that look alike come back as what they were
    assert codec.decode(codec.encode("x", 720, "v:720")) == Callback("x", (720, "v:720"))


def test_data_over_64_bytes_is_refused_at_encoding(codec: CallbackCodec):
    fits = codec.encode("f", BIGGEST, BIGGEST)
    assert len(fits) <= CALLBACK_DATA_MAX
    with pytest.raises(ValueError, match="over 64"):
        codec.encode("f", BIGGEST, BIGGEST, BIGGEST)
    bad: list[tuple[str, tuple[Any, ...]]] = [
        ("bad action", ()),
        ("ok", ("has|bar",)),
        ("ok", ("",)),
        ("ok", ("12",)),  # would come back as an int
        ("ok", (True,)),
        ("ok", (1.5,)),
    ]
    for action, args in bad:
        with pytest.raises(ValueError):
            codec.encode(action, *args)


def test_every_single_change_is_rejected(codec: CallbackCodec):
    data = codec.encode("fmt", 123456789, 987654321, "v:720")
    for i, original in enumerate(data):
        for replacement in CHARSET:
            if replacement != original:
                forged = data[:i] + replacement + data[i + 1 :]
                assert codec.decode(forged) is None, forged
        raw = data.encode()
        for bit in range(8):
            forged_bytes = raw[:i] + bytes([raw[i] ^ (1 << bit)]) + raw[i + 1 :]
            assert codec.decode(forged_bytes.decode("utf-8", "replace")) is None


def test_truncated_extended_and_malformed_data_are_rejected(codec: CallbackCodec):
    data = codec.encode("cancel", 42)
    for cut in range(len(data)):
        assert codec.decode(data[:cut]) is None
    assert codec.decode(data + "x") is None
    assert codec.decode(data + "|" + data) is None
    for junk in ["", "|", "cancel|42", "cancel|42|", "x" * 64, "x" * 200, "سلام|۴۲|abcdefghijkl", "\x00" * 10]:
        assert codec.decode(junk) is None


def test_data_signed_with_another_key_is_rejected(tmp_path: Path, codec: CallbackCodec):
    other = CallbackCodec.from_data_dir(tmp_path / "other")
    data = other.encode("cancel", 42)
    assert other.decode(data) == Callback("cancel", (42,))
    assert codec.decode(data) is None


def test_key_file_is_made_private_once_and_reused(tmp_path: Path):
    first = CallbackCodec.from_data_dir(tmp_path / "data")
    key_file = tmp_path / "data" / KEY_FILE
    info = key_file.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_size) == (0o600, KEY_BYTES)
    assert [p.name for p in key_file.parent.iterdir()] == [KEY_FILE]  # no temporary file left
    second = CallbackCodec.from_data_dir(tmp_path / "data")  # another process, or after a restart
    data = first.encode("cancel", 7)
    assert second.decode(data) == Callback("cancel", (7,))
    assert key_file.stat().st_mtime_ns == info.st_mtime_ns


def test_key_file_readable_by_others_is_refused(tmp_path: Path):
    CallbackCodec.from_data_dir(tmp_path)
    key_file = tmp_path / KEY_FILE
    os.chmod(key_file, 0o644)
    with pytest.raises(CallbackKeyError, match="chmod 600"):
        CallbackCodec.from_data_dir(tmp_path)


def test_key_file_of_the_wrong_size_or_kind_is_refused(tmp_path: Path):
    short = tmp_path / "short"
    short.mkdir()
    (short / KEY_FILE).write_bytes(b"x" * 16)
    os.chmod(short / KEY_FILE, 0o600)
    with pytest.raises(CallbackKeyError, match="16 bytes"):
        CallbackCodec.from_data_dir(short)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / KEY_FILE).symlink_to(tmp_path / KEY_FILE)
    with pytest.raises(CallbackKeyError, match="regular file"):
        CallbackCodec.from_data_dir(linked)
