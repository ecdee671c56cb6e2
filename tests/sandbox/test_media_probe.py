"""What the chat view tells about a sent file: codecs (ffprobe), faststart (moov before mdat) and
the supports_streaming flag as the bot sent it."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path
from typing import Any

from sandbox.probe import mp4_faststart
from tests.sandbox.support import Api


def _box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _large_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload


def _moov_last(sample_media: Path, folder: Path) -> Path:
    """The sample remuxed the way a plain `ffmpeg -c copy` writes an MP4: moov after mdat."""
    out = folder / "moov-last.mp4"
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(sample_media / "sample.mp4")]
    subprocess.run([*argv, "-c", "copy", str(out)], check=True, timeout=60)
    return out


def _read(path: Path) -> bytes:
    return path.read_bytes()


async def _sent_media(api: Api, method: str, kind: str, path: Path, **params: Any) -> dict[str, Any]:
    files = {kind: (path.name, _read(path), "application/octet-stream")}
    sent = await api.ok(method, files=files, chat_id=1, **params)
    view = (await api.chat(1))["messages"][-1]
    assert view["message_id"] == sent["message_id"]
    return dict(view["media"])


async def test_video_codecs_faststart_and_streaming_flag(api: Api, sample_media: Path, tmp_path: Path):
    await api.config(limits=False)
    await api.say(1, "send")
    fast = await _sent_media(api, "sendVideo", "video", sample_media / "sample.mp4", supports_streaming="true")
    assert (fast["video_codec"], fast["audio_codec"], fast["faststart"], fast["supports_streaming"]) == (
        "h264",
        "aac",
        True,
        True,
    )
    slow = await _sent_media(api, "sendVideo", "video", _moov_last(sample_media, tmp_path))
    assert (slow["video_codec"], slow["faststart"], slow["supports_streaming"]) == ("h264", False, None)
    webm = await _sent_media(api, "sendVideo", "video", sample_media / "sample.webm", supports_streaming="false")
    assert (webm["video_codec"], webm["audio_codec"], webm["faststart"], webm["supports_streaming"]) == (
        "vp9",
        "opus",
        None,
        False,
    )
    # A re-send by file_id shows this send's flag; the file's facts stay.
    await api.ok("sendVideo", chat_id=1, video=fast["file_id"], supports_streaming=False)
    again = (await api.chat(1))["messages"][-1]["media"]
    assert (again["file_id"], again["faststart"], again["supports_streaming"]) == (fast["file_id"], True, False)


async def test_audio_keeps_its_tags_and_gains_its_codec(api: Api, sample_media: Path):
    await api.config(limits=False)
    await api.say(1, "send")
    audio = await _sent_media(api, "sendAudio", "audio", sample_media / "audio.m4a", title="Tone", performer="Sandbox")
    assert (audio["title"], audio["performer"], audio["duration"]) == ("Tone", "Sandbox", 4)
    assert (audio["audio_codec"], audio["video_codec"], audio["supports_streaming"]) == ("aac", None, None)
    assert isinstance(audio["faststart"], bool)
    doc = await _sent_media(api, "sendDocument", "document", sample_media / "sample.mp4")
    assert (doc["video_codec"], doc["audio_codec"], doc["faststart"], doc["supports_streaming"]) == (
        None,
        None,
        None,
        None,
    )


def test_faststart_reads_the_top_level_boxes(tmp_path: Path):
    cases = {
        "fast.mp4": (_box(b"ftyp", b"isom") + _box(b"moov") + _box(b"mdat", b"x" * 20), True),
        "slow.mp4": (_box(b"ftyp", b"isom") + _box(b"free") + _large_box(b"mdat", b"x" * 20) + _box(b"moov"), False),
        "to-end.mp4": (_box(b"ftyp") + struct.pack(">I4s", 0, b"mdat") + b"xx", False),
        "not-mp4.webm": (b"\x1a\x45\xdf\xa3" + b"\0" * 40, None),
        "broken.mp4": (_box(b"ftyp") + struct.pack(">I4s", 3, b"junk"), None),
        "empty.mp4": (b"", None),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert mp4_faststart(tmp_path / name) is expected, name
