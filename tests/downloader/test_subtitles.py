"""WebVTT as SRT: what players of SRT show, and the language chosen."""

from __future__ import annotations

from pathlib import Path

from downloader.subtitles import file_name, language, to_srt

VTT = """WEBVTT
Kind: captions

NOTE a note that is no cue

STYLE
::cue { color: yellow }

intro
00:01.000 --> 00:02.500 align:start position:10%
<v Roger>سلام <i>دنیا</i>

01:02:03.004 --> 01:02:04.000
<c.yellow>two</c>
lines
"""


def test_webvtt_becomes_numbered_srt_without_its_header_notes_styles_and_voice_tags(tmp_path: Path) -> None:
    source = tmp_path / "media.fa.vtt"
    source.write_text(VTT, encoding="utf-8")
    srt = to_srt(source, tmp_path / "out.srt").read_text(encoding="utf-8")
    assert srt == (
        "1\n00:00:01,000 --> 00:00:02,500\nسلام <i>دنیا</i>\n\n2\n01:02:03,004 --> 01:02:04,000\ntwo\nlines\n"
    )


def test_the_users_language_first_then_the_sources_first() -> None:
    info: dict[str, object] = {"subtitles": {"en": [], "fa-IR": []}}
    assert language(info, "fa") == "fa-IR"
    assert language(info, "de") == "en"
    assert language({"subtitles": {}}, "fa") is None and language(info, "") is None


def test_the_file_is_named_after_the_video_without_path_characters() -> None:
    assert file_name("a/b: ویدیو?", "fa") == "a_b_ ویدیو.fa.srt"
    assert file_name("...", "en") == "video.en.srt"
