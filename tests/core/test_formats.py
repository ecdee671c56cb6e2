"""Format choices from yt-dlp's info dicts, and what a user's request resolves to: the key the
gateway and the downloaders both compute, so that a cached file is found whoever asks."""

from __future__ import annotations

from core.formats import choice_keys, probe_from_info, resolve, ytdlp_format

MB = 1_000_000
CAP = 50 * MB


def fmt(fid: str, height: int | None, *, vcodec: str = "avc1", acodec: str = "none", size: int = 0) -> dict:
    return {"format_id": fid, "height": height, "vcodec": vcodec, "acodec": acodec, "filesize": size or None}


YOUTUBE_LIKE = {
    "title": "Clip",
    "extractor_key": "Youtube",
    "duration": 100,
    "formats": [
        fmt("a", None, vcodec="none", acodec="mp4a", size=2 * MB),
        fmt("360", 360, size=5 * MB),
        fmt("720", 720, size=20 * MB),
        fmt("1080", 1080, size=60 * MB),  # over the cap with its audio
    ],
}


def test_a_video_offers_the_heights_that_fit_with_sizes_and_audio():
    probe = probe_from_info(YOUTUBE_LIKE, max_bytes=CAP, playlist_max=20)
    assert probe.kind == "video" and probe.duration == 100
    assert [(c.key, c.height, c.size) for c in probe.choices] == [
        ("v:720", 720, 22 * MB),  # the video plus the audio it lacks
        ("v:360", 360, 7 * MB),
        ("audio", 0, 2 * MB),
    ]
    assert choice_keys(probe, "mp3") == ["v:720", "v:360", "a:mp3"]


def test_requests_resolve_to_the_key_of_what_is_delivered():
    probe = probe_from_info(YOUTUBE_LIKE, max_bytes=CAP, playlist_max=20)
    assert resolve("best", probe, "m4a") == "v:720"  # the best that fits, not 1080
    assert resolve("v:1080", probe, "m4a") == "v:720"
    assert resolve("v:480", probe, "m4a") == "v:360"
    assert resolve("v:144", probe, "m4a") == "v:360"  # nothing that low: the lowest there is
    assert resolve("audio", probe, "mp3") == "a:mp3"


def test_sizes_from_bitrate_and_duration_when_the_site_gives_no_size():
    info = {
        "duration": 10,
        "formats": [{"format_id": "hls-480", "height": 480, "vcodec": "avc1", "acodec": "mp4a", "tbr": 800}],
    }
    [video, audio] = probe_from_info(info, max_bytes=CAP, playlist_max=20).choices
    assert (video.key, video.size) == ("v:480", 800 * 1000 // 8 * 10)
    assert audio.key == "audio"


def test_a_direct_file_of_unknown_kind_is_a_file_and_nothing_is_asked():
    info = {"title": "blob", "ext": "unknown_video", "direct": True, "url": "http://h/blob", "filesize": 5 * MB}
    probe = probe_from_info(info, max_bytes=CAP, playlist_max=20)
    assert probe.kind == "file" and [c.key for c in probe.choices] == ["file"]
    assert resolve("best", probe, "m4a") == resolve("file", probe, "m4a") == "file"
    too_big = probe_from_info({**info, "filesize": 2 * CAP}, max_bytes=CAP, playlist_max=20)
    assert too_big.choices == [] and resolve("file", too_big, "m4a") is None  # too large, before downloading


def test_a_direct_video_without_heights_offers_video_and_audio():
    probe = probe_from_info({"ext": "mp4", "direct": True, "url": "http://h/v.mp4"}, max_bytes=CAP, playlist_max=20)
    assert probe.kind == "video" and [c.key for c in probe.choices] == ["v:best", "audio"]
    assert resolve("best", probe, "m4a") == "v:best"


def test_a_playlist_keeps_its_first_entries_and_offers_one_choice_for_all():
    info = {
        "_type": "playlist",
        "title": "Feed",
        "entries": [{"url": f"http://h/{i}", "title": f"Item {i}"} for i in range(30)],
    }
    probe = probe_from_info(info, max_bytes=CAP, playlist_max=20)
    assert probe.kind == "playlist" and len(probe.entries) == 20 and probe.entries[0].title == "Item 0"
    assert [c.key for c in probe.choices] == ["best", "v:720", "v:480", "v:360", "audio"]


def test_selectors_prefer_the_exact_height_then_lower_then_anything():
    assert ytdlp_format("v:480").startswith("bv*[height=480]+ba/b[height=480]/bv*[height<=480]")
    assert ytdlp_format("a:m4a").startswith("ba[ext=m4a]")
    assert ytdlp_format("file") == ytdlp_format("v:best") == "bv*+ba/b"
