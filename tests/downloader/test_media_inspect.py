"""inspect with real ffprobe: media is described, anything else is "other", nothing is fetched."""

from __future__ import annotations

import http.server
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from downloader.media import MediaError, MediaInfo, inspect, looks_like_media, make_playable_video
from tests.downloader.media_inputs import make_sound, make_video

SERVER_STOP_TIMEOUT_S = 10


def test_a_video_is_described(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", size="320x240", seconds=3, faststart=True)
    info = inspect(src)
    assert (info.kind, info.vcodec, info.acodec, info.pix_fmt) == ("video", "h264", "aac", "yuv420p")
    assert (info.width, info.height, info.fps) == (320, 240, 25.0)
    assert info.duration is not None and abs(info.duration - 3) < 0.1
    assert info.is_mp4 and info.faststart and info.size == src.stat().st_size
    assert info.bit_rate and info.video_bit_rate and info.audio_bit_rate
    assert (info.video_stream, info.audio_stream) == (0, 1)


def test_an_audio_file_is_audio(tmp_path: Path) -> None:
    info = inspect(make_sound(tmp_path / "in.m4a", seconds=2))
    assert (info.kind, info.acodec, info.vcodec, info.width) == ("audio", "aac", None, None)
    assert info.duration is not None and abs(info.duration - 2) < 0.1


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("random.bin", os.urandom(100_000)),
        ("random.mp3", os.urandom(100_000)),  # the mp3 demuxer "finds" it, with a probe score of 1
        ("random.mp4", os.urandom(100_000)),
        ("notes.txt", b"a text file, not a video\n" * 50),
        ("empty.webm", b""),
    ],
)
def test_what_is_not_media_is_other(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    info = inspect(path)
    assert (info.kind, info.size, info.duration, info.width, info.vcodec, info.acodec) == (
        "other", len(content), None, None, None, None
    )  # fmt: skip


def test_a_zip_is_other(tmp_path: Path) -> None:
    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("video.mp4", os.urandom(10_000))
    assert inspect(path).kind == "other"


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        inspect(tmp_path / "gone.mp4")


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server on a free port that records every request path."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(SERVER_STOP_TIMEOUT_S)


def test_a_local_playlist_never_makes_ffmpeg_fetch_or_read_other_files(
    tmp_path: Path, counting_server: tuple[str, list[str]]
) -> None:
    """An .m3u8 naming a URL and another local file: not media to us, and nothing is opened."""
    base, seen = counting_server
    secret = make_video(tmp_path / "secret.ts", seconds=1)
    playlist = tmp_path / "job" / "media.m3u8"
    playlist.parent.mkdir()
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n{base}/seg0.ts\n#EXTINF:4,\nfile://{secret}\n#EXT-X-ENDLIST\n",
        encoding="utf-8",
    )
    assert inspect(playlist).kind == "other"
    # even a caller that insists it is a video gets an error, not a fetch
    forged = MediaInfo(kind="video", size=1, vcodec="h264", pix_fmt="yuv420p", video_stream=0, duration=4.0)
    with pytest.raises(MediaError):
        make_playable_video(playlist, playlist.parent, forged)
    assert seen == [], f"ffmpeg fetched {seen}"
    assert sorted(p.name for p in playlist.parent.iterdir()) == ["media.m3u8"]


def test_the_first_bytes_tell_a_plain_file_from_possible_media(tmp_path):
    samples = {
        "blob.bin": os.urandom(4096).replace(b"\xff", b"\x00").replace(b"\x47", b"\x00"),
        "notes.txt": b"hello, this is not a video\n" * 20,
        "archive.zip": b"PK\x03\x04" + b"\x00" * 300,
    }
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        assert not looks_like_media(tmp_path / name), name
    # Real containers are recognised, whatever their names.
    made = [
        make_video(tmp_path / "v.mp4"),
        make_video(tmp_path / "v.webm", vcodec="vp9", acodec="opus"),
        make_video(tmp_path / "v.ts"),
        make_sound(tmp_path / "a.m4a"),
        make_sound(tmp_path / "a.mp3", acodec="mp3"),
    ]
    for path in made:
        renamed = path.rename(path.with_suffix(".bin"))
        assert looks_like_media(renamed), path
