"""make_thumbnail with real ffmpeg: a JPEG at most 320 px long, the picture's aspect, < 200 kB."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from downloader.media import inspect, make_thumbnail
from tests.downloader.media_inputs import make_image, make_sound, make_video, rotated, stream

TELEGRAM_THUMB_BYTES = 200 * 1000  # Telegram's bound for a thumbnail (Bot API: under 200 kB), not the bot's copy


def jpeg_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:2] == b"\xff\xd8", "a JPEG"
    video = stream(path, "video")
    assert video["codec_name"] == "mjpeg"
    return video["width"], video["height"]


@pytest.mark.parametrize(
    ("size", "want"),
    [("640x360", (320, 180)), ("360x640", (180, 320)), ("100x50", (100, 50))],
    ids=["landscape-16:9", "portrait-9:16", "small-not-enlarged"],
)
def test_thumbnail_of_a_video(tmp_path: Path, size: str, want: tuple[int, int]) -> None:
    src = make_video(tmp_path / "in.mp4", acodec=None, size=size, seconds=3)

    out = make_thumbnail(src, tmp_path / "thumb.jpg")

    assert out == tmp_path / "thumb.jpg"
    assert jpeg_size(out) == want
    assert out.stat().st_size < TELEGRAM_THUMB_BYTES
    assert not list(tmp_path.glob(".*.part"))


def test_thumbnail_of_a_rotated_phone_video_is_portrait(tmp_path: Path) -> None:
    src = rotated(make_video(tmp_path / "raw.mp4", size="640x360"), tmp_path / "in.mp4", 90)
    assert jpeg_size(make_thumbnail(src, tmp_path / "t.jpg")) == (180, 320)  # type: ignore[arg-type]


def test_frame_is_taken_about_ten_percent_in_and_never_past_the_end(tmp_path: Path) -> None:
    """testsrc draws a running counter: the 10 % frame differs from the first. A container that
    claims 60 s for a 4 s clip makes the 10 % seek land past the end: a frame is taken anyway."""
    src = make_video(tmp_path / "in.mp4", acodec=None, seconds=4)
    first = make_thumbnail(src, tmp_path / "first.jpg", at_seconds=0)
    tenth = make_thumbnail(src, tmp_path / "tenth.jpg")
    lying = dataclasses.replace(inspect(src), duration=60.0)
    late = make_thumbnail(src, tmp_path / "late.jpg", info=lying)
    assert first and tenth and late
    assert first.read_bytes() != tenth.read_bytes()
    assert jpeg_size(late) == (320, 240)


@pytest.mark.parametrize("name", ["cover.webp", "cover.png", "cover.jpg"])
def test_thumbnail_of_a_picture(tmp_path: Path, name: str) -> None:
    src = make_image(tmp_path / name, size="1280x720")
    assert inspect(src).picture

    out = make_thumbnail(src, tmp_path / "thumb.jpg")

    assert out is not None and jpeg_size(out) == (320, 180)


def test_thumbnail_of_an_audio_cover_and_none_without_one(tmp_path: Path) -> None:
    cover = make_image(tmp_path / "cover.png", size="500x500")
    with_cover = make_sound(tmp_path / "with.mp3", acodec="mp3", cover=cover)
    bare = make_sound(tmp_path / "bare.m4a", acodec="aac")

    out = make_thumbnail(with_cover, tmp_path / "thumb.jpg")

    assert out is not None and jpeg_size(out) == (320, 320)
    assert make_thumbnail(bare, tmp_path / "none.jpg") is None
    assert not (tmp_path / "none.jpg").exists()


def test_a_heavy_picture_gets_a_lower_quality_to_stay_under_200_kb(tmp_path: Path) -> None:
    """Noise at 900x900 is about 600 kB at the best JPEG quality: the quality is lowered."""
    src = make_image(tmp_path / "noise.png", size="900x900", noise=True)

    out = make_thumbnail(src, tmp_path / "thumb.jpg", max_side=900)

    assert out is not None and jpeg_size(out) == (900, 900)
    assert out.stat().st_size < TELEGRAM_THUMB_BYTES


def test_no_thumbnail_from_what_is_not_media(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 100)
    assert make_thumbnail(junk, tmp_path / "t.jpg") is None
    assert not (tmp_path / "t.jpg").exists()
