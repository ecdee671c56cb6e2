"""A video's subtitles as the user gets them: one SRT document, in the user's language when the
source has it, else in the source's first listed language, named after the video.

yt-dlp fetches the subtitle file with the video (through the same proxy: `writesubtitles`, one
language, WebVTT or SRT as the source has it); here it becomes SRT: WebVTT's header, notes,
styles and cue settings go, its cue times get SRT's comma, and the cues are numbered again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SUBTITLE_FORMATS = "vtt/srt/best"  # yt-dlp's subtitlesformat
MAX_NAME_CHARS = 80  # of the video's title in the file's name
UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
_TIME = re.compile(r"^((?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}[.,]\d{3})")
_SKIPPED_BLOCKS = ("WEBVTT", "NOTE", "STYLE", "REGION")


def language(info: Mapping[str, Any], wanted: str) -> str | None:
    """The subtitle language to fetch: `wanted` if the source has it (or a regional variant of it,
    `fa-IR`), else its first listed one; None when it has none."""
    listed = info.get("subtitles")
    if not wanted or not isinstance(listed, Mapping) or not listed:
        return None
    names = [str(name) for name in listed]
    for name in names:
        if name == wanted or name.split("-")[0].lower() == wanted.lower():
            return name
    return names[0]


def found(folder: Path, stem: str, lang: str) -> Path | None:
    """The subtitle file yt-dlp wrote next to the video (`<stem>.<lang>.<ext>`), if any."""
    return next((p for p in sorted(folder.glob(f"{stem}.{lang}.*")) if p.suffix in (".vtt", ".srt")), None)


def file_name(title: str, lang: str) -> str:
    name = UNSAFE.sub("_", " ".join(title.split()))[:MAX_NAME_CHARS].strip(" ._") or "video"
    return f"{name}.{lang}.srt"


def to_srt(source: Path, out: Path) -> Path:
    """`source` (WebVTT or SRT) written as SRT to `out`."""
    text = source.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    cues: list[str] = []
    for block in re.split(r"\n{2,}", text):
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines or lines[0].split(" ")[0] in _SKIPPED_BLOCKS:
            continue
        at = next((i for i, line in enumerate(lines) if _TIME.match(line.strip())), None)
        if at is None:
            continue
        start, end = _TIME.match(lines[at].strip()).groups()  # type: ignore[union-attr]
        body = [_plain(line) for line in lines[at + 1 :]]
        if any(body):
            cues.append(f"{len(cues) + 1}\n{_srt_time(start)} --> {_srt_time(end)}\n" + "\n".join(body))
    out.write_text("\n\n".join(cues) + "\n", encoding="utf-8")
    return out


def _srt_time(value: str) -> str:
    value = value.replace(".", ",")
    return value if value.count(":") == 2 else f"00:{value}"  # WebVTT may leave out the hours


def _plain(line: str) -> str:
    """A cue line without WebVTT's voice and class tags (SRT players show <i>, <b>, <u> only)."""
    return re.sub(r"</?(?:v|c|lang|ruby|rt)(?:[.\s][^>]*)?>", "", line).strip()
