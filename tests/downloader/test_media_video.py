"""make_playable_video with real ffmpeg: every output is a faststart H.264/AAC MP4."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from downloader.media import inspect, make_playable_video, mp4_faststart, video_plan
from tests.downloader.media_inputs import assert_playable_mp4, make_video, packets, rotated, stream


def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "spool" / "job-1"
    folder.mkdir(parents=True)
    return folder


def test_vp9_opus_webm_is_transcoded_to_h264_aac_faststart(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.webm", vcodec="vp9", acodec="opus", size="321x241", seconds=3)
    info = inspect(src)
    assert (info.kind, info.vcodec, info.acodec, info.faststart) == ("video", "vp9", "opus", False)
    assert video_plan(info) == "transcode"
    seen: list[float] = []

    out = make_playable_video(src, out_dir(tmp_path), info, progress=seen.append)

    assert out.name == "video.mp4"
    probed = assert_playable_mp4(out)
    video = stream(out, "video")
    assert (video["width"], video["height"]) == (320, 240), "odd sizes are rounded down to even ones"
    assert abs(float(probed["format"]["duration"]) - 3) < 0.2
    assert mp4_faststart(out) and inspect(out).faststart
    # key frames about every 2 s, so that a split can cut: a 3 s clip has two
    assert sum(1 for _, flags in packets(out) if flags.startswith("K")) == 2
    assert seen and seen[-1] == 1.0 and seen == sorted(seen), seen
    assert [p.name for p in out.parent.iterdir()] == ["video.mp4"], "no temporary file is left"


def test_h264_aac_without_faststart_is_only_remuxed(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", vcodec="h264", acodec="aac", seconds=4, faststart=False)
    info = inspect(src)
    assert info.faststart is False and video_plan(info) == "remux"

    out = make_playable_video(src, out_dir(tmp_path), info)

    assert_playable_mp4(out)
    assert packets(out, "v:0") == packets(src, "v:0"), "the video packets are copied bit for bit"
    assert packets(out, "a:0") == packets(src, "a:0"), "so are the audio packets"
    assert stream(out, "video")["bit_rate"] == stream(src, "video")["bit_rate"]
    assert src.exists(), "the source is the caller's to delete"


def test_mkv_with_h264_and_opus_copies_video_and_encodes_audio(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", vcodec="h264", acodec="opus", seconds=3)
    info = inspect(src)
    assert video_plan(info) == "copy_video"

    out = make_playable_video(src, out_dir(tmp_path), info)

    assert_playable_mp4(out)
    assert stream(out, "audio")["codec_name"] == "aac"
    assert [s for s, _ in packets(out)] == [s for s, _ in packets(src)], "video copied, not re-encoded"


def test_a_faststart_h264_aac_mp4_is_moved_untouched(tmp_path: Path) -> None:
    src = make_video(tmp_path / "download.mp4", faststart=True)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    info = inspect(src)
    assert info.faststart and video_plan(info) == "keep"

    out = make_playable_video(src, out_dir(tmp_path), info)

    assert hashlib.sha256(out.read_bytes()).hexdigest() == digest
    assert not src.exists()


def test_h264_in_444_is_transcoded_because_phones_cannot_play_it(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", vcodec="h264_444", faststart=True)
    info = inspect(src)
    assert info.pix_fmt == "yuv444p" and video_plan(info) == "transcode"
    assert_playable_mp4(make_playable_video(src, out_dir(tmp_path), info))


def test_only_the_first_video_and_audio_streams_are_kept(tmp_path: Path) -> None:
    """A subtitle track and a second audio track in an mkv: the MP4 gets one video, one audio."""
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n", encoding="utf-8")
    extra = ("-i", str(srt), "-f", "lavfi", "-i", "sine=frequency=880:duration=3")
    maps = ("-map", "0:v", "-map", "1:a", "-map", "3:a", "-map", "2:s", "-c:s", "srt", "-c:a", "libopus")
    src = make_video(tmp_path / "in.mkv", acodec="opus", extra_inputs=extra, extra=maps)

    out = make_playable_video(src, out_dir(tmp_path), inspect(src))

    info = assert_playable_mp4(out)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]


@pytest.mark.parametrize("vcodec", ["h264", "h264_444"], ids=["remuxed", "transcoded"])
def test_a_portrait_phone_video_stays_portrait(tmp_path: Path, vcodec: str) -> None:
    """Stored 320x180 with a display matrix turning it upright: shown, and sent, as 180x320."""
    src = rotated(make_video(tmp_path / "raw.mp4", vcodec=vcodec, size="320x180"), tmp_path / "in.mp4", 90)
    info = inspect(src)
    assert (info.width, info.height) == (180, 320)

    out = make_playable_video(src, out_dir(tmp_path), info)

    got = inspect(out)
    assert (got.width, got.height) == (180, 320), got


def test_anamorphic_video_gets_square_pixels(tmp_path: Path) -> None:
    """320x240 stored, 16:9 shown (sample aspect 4:3): sent as 426x240 with square pixels."""
    src = make_video(tmp_path / "in.mp4", vcodec="h264_444", size="320x240", extra=("-aspect", "16:9"))
    info = inspect(src)
    assert (info.width, info.height) == (427, 240)

    out = make_playable_video(src, out_dir(tmp_path), info)

    video = stream(out, "video")
    assert (video["width"], video["height"], video.get("sample_aspect_ratio", "1:1")) == (426, 240, "1:1")
