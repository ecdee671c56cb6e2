"""The status message's words: queued with a position and an estimate, or the format choices."""

from __future__ import annotations

import sqlite_utils

from core import albums, formats
from core.callback_data import CallbackCodec
from core.jobstates import JobState, sql_is
from core.payloads import Button, Keyboard
from core.status import ACTION_CHOOSE, cancel_button, duration, megabytes, shown_title, wait_text
from core.texts import digits, text
from ipc.messages import Probe

ACTION_SUBTITLES = "st"  # callback data st|<job>: subtitles with the video, or not (a toggle)
CHECK = "✓ "
RECENT_JOBS = 50  # the estimate is the median of this many recent jobs' durations


def queued_text(lang: str, position: int, eta: float | None) -> str:
    shown = text(lang, "queued_eta", eta=wait_text(lang, eta)) if eta else ""
    return text(lang, "queued", position=digits(lang, position), eta=shown)


def cached_keys(db: sqlite_utils.Database, media_key: str) -> set[str]:
    rows = db.execute("SELECT format_key FROM media_cache WHERE media_key = ? AND part = 1", [media_key]).fetchall()
    return {r[0] for r in rows}


def choices_message(
    lang: str,
    codec: CallbackCodec,
    job_id: int,
    probe: Probe,
    audio_format: str,
    cached: set[str],
    subtitles: bool = False,
) -> tuple[str, Keyboard]:
    """The question and its buttons: qualities with sizes, audio, a mark on cached ones, the
    subtitles (when the source has them: checked when they come along), cancel."""
    title = shown_title(probe.title)
    if probe.kind == "playlist":
        count = digits(lang, len(probe.entries))
        body = text(lang, "choose_playlist", title=title, count=count)
    elif probe.kind == albums.GALLERY:
        body = text(lang, "choose_album", title=title, count=digits(lang, probe.entry_count))
    else:
        shown = text(lang, "duration_line", duration=duration(lang, probe.duration)) if probe.duration else ""
        body = text(lang, "choose", title=f"<b>{title}</b>" if title else "", duration=shown)
    rows: list[list[Button]] = []
    for index, choice in enumerate(probe.choices):
        key = formats.audio_key(audio_format) if choice.key == "audio" else choice.key
        label = _label(lang, choice.key, choice.height, choice.size, audio_format)
        if key in cached:
            label = text(lang, "cached_mark") + label
        rows.append([Button(text=label, data=codec.encode(ACTION_CHOOSE, job_id, index))])
    if probe.subtitles:
        label = (CHECK if subtitles else "") + text(lang, "button_subtitles")
        rows.append([Button(text=label, data=codec.encode(ACTION_SUBTITLES, job_id))])
    rows.append([cancel_button(lang, codec, job_id)])
    return body, rows


def _label(lang: str, key: str, height: int, size: int, audio_format: str) -> str:
    shown = text(lang, "size_suffix", size=megabytes(lang, size)) if size else ""
    if key == "best":
        return text(lang, "button_best")
    if albums.is_key(key):
        return text(lang, albums.BUTTON_KEYS[key])
    if key == "audio":
        return text(lang, "button_audio", fmt=audio_format, size=shown)
    if key == "v:best" or not height:
        return text(lang, "button_video_any", size=shown)
    return text(lang, "button_video", height=digits(lang, height), size=shown)


def estimate(db: sqlite_utils.Database, position: int, slots: int) -> float | None:
    """About how long until a job at `position` is done, from recent jobs; None without history."""
    rows = db.execute(
        "SELECT finished_at - created_at FROM jobs INDEXED BY jobs_done"
        f" WHERE state = {sql_is(JobState.DONE)} AND parent_id IS NULL ORDER BY finished_at DESC LIMIT ?",
        [RECENT_JOBS],
    ).fetchall()
    if not rows:
        return None
    took = sorted(r[0] for r in rows)
    median = took[len(took) // 2]
    waves = -(-position // max(1, slots))  # jobs ahead run `slots` at a time
    return max(1.0, median * waves)
