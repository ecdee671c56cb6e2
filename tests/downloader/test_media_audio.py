"""make_audio with real ffmpeg: m4a (AAC) or mp3, the first audio stream only, tags kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from downloader.media import MediaError, inspect, make_audio
from tests.downloader.media_inputs import make_image, make_sound, make_video, packets, probe, stream


@pytest.mark.parametrize(
    ("fmt", "codec", "name"),
    [("m4a", "aac", "audio.m4a"), ("mp3", "mp3", "audio.mp3")],
)
def test_audio_from_a_vp9_opus_video(tmp_path: Path, fmt: str, codec: str, name: str) -> None:
    src = make_video(tmp_path / "in.webm", vcodec="vp9", acodec="opus", seconds=4)

    out = make_audio(src, tmp_path, fmt, title="Song", performer="Singer")

    assert out == tmp_path / name
    info = probe(out)
    assert [s["codec_type"] for s in info["streams"]] == ["audio"], "the video is dropped"
    assert info["streams"][0]["codec_name"] == codec
    assert abs(float(info["format"]["duration"]) - 4) < 0.15, info["format"]
    tags = {k.lower(): v for k, v in info["format"].get("tags", {}).items()}
    assert (tags.get("title"), tags.get("artist")) == ("Song", "Singer")
    got = inspect(out)
    assert got.kind == "audio" and (got.width, got.height) == (None, None)


def test_aac_is_copied_into_m4a_not_reencoded(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", acodec="aac", seconds=3)

    out = make_audio(src, tmp_path, "m4a")

    assert packets(out, "a:0") == packets(src, "a:0")
    assert inspect(out).faststart


def test_source_tags_are_kept_and_a_cover_is_dropped(tmp_path: Path) -> None:
    cover = make_image(tmp_path / "cover.jpg", size="300x300")
    src = make_sound(tmp_path / "in.mp3", acodec="mp3", cover=cover)
    assert inspect(src).has_cover

    out = make_audio(src, tmp_path, "m4a")

    info = probe(out)
    assert [s["codec_type"] for s in info["streams"]] == ["audio"]
    assert stream(out, "audio")["codec_name"] == "aac"
    assert info["format"]["tags"]["title"] == "Source title"


def test_a_file_without_audio_is_refused(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", acodec=None)
    with pytest.raises(MediaError):
        make_audio(src, tmp_path, "mp3")
    assert not list(tmp_path.glob("*audio*")), "no partial output"
