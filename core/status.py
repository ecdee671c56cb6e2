"""A job's status message as the user reads it: progress bars, phases, the cancel button.

Every process that changes a status message (the gateway while a job waits, a downloader while
it downloads, the uploader while it uploads) renders it here, so it reads the same throughout.
Every edit carries the cancel button again: an edit without a keyboard would remove it.
"""

from __future__ import annotations

import html
import math

from core.callback_data import CallbackCodec
from core.payloads import Button, Keyboard
from core.texts import digits, text

BAR_CELLS = 6
BAR_FULL, BAR_EMPTY = "▰", "▱"
MB = 1_000_000  # shown sizes are decimal megabytes, as file managers and Telegram show them
SECONDS_SHOWN_UP_TO = 90  # longer waits are shown in minutes
TITLE_CHARS = 200  # a media's title in a status or a choice is cut to this

ACTION_CANCEL = "x"
ACTION_CHOOSE = "f"


def shown_title(title: str | None) -> str:
    """A media's title as a status shows it: cut (a site picks it, up to thousands of characters,
    and a message holds 4,096) and escaped (the statuses are HTML; the title is anyone's text)."""
    return html.escape((title or "")[:TITLE_CHARS], quote=False)


def bar(fraction: float) -> str:
    full = min(BAR_CELLS, max(0, math.floor(fraction * BAR_CELLS + 1e-9)))
    return BAR_FULL * full + BAR_EMPTY * (BAR_CELLS - full)


def megabytes(lang: str, size: float) -> str:
    return digits(lang, f"{size / MB:.1f}")


def duration(lang: str, seconds: float) -> str:
    """3:07 or 1:02:03."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    shown = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return digits(lang, shown)


def wait_text(lang: str, seconds: float) -> str:
    """About how long: "40 s", "3 min"."""
    if seconds <= SECONDS_SHOWN_UP_TO:
        return text(lang, "eta_seconds", seconds=digits(lang, max(1, round(seconds))))
    return text(lang, "eta_minutes", minutes=digits(lang, max(1, round(seconds / 60))))


def left_text(lang: str, seconds: float) -> str:
    if seconds <= SECONDS_SHOWN_UP_TO:
        return text(lang, "seconds_left", seconds=digits(lang, max(0, round(seconds))))
    return text(lang, "minutes_left", minutes=digits(lang, max(1, round(seconds / 60))))


# A phase's title (the phases a downloader reports, and the uploader's).
PHASE_KEYS = {
    "probing": "phase_probing",
    "downloading": "phase_downloading",
    "converting": "phase_converting",
    "uploading": "phase_uploading",
    "retrying": "phase_retrying",
}


def progress_text(lang: str, phase: str, done: int, total: int, speed: float, eta: float, head: str = "") -> str:
    """`⬇️ Downloading` and `▰▰▰▱▱▱ 48 % · 12.3 / 25.6 MB · 3.1 MB/s · 4 s left`."""
    title = text(lang, PHASE_KEYS[phase])
    if phase == "converting":  # ffmpeg's progress is a share of the duration, not bytes
        fraction = min(1.0, done / total) if total > 0 else 0.0
        line = f"{bar(fraction)} {digits(lang, math.floor(fraction * 100))} %"
    elif phase == "probing":  # nothing to count yet
        line = ""
    elif total > 0:
        fraction = min(1.0, done / total)
        if not eta and speed > 0:
            eta = max(0.0, (total - done) / speed)
        line = text(
            lang,
            "progress_line",
            bar=bar(fraction),
            percent=digits(lang, math.floor(fraction * 100)),
            done=megabytes(lang, done),
            total=megabytes(lang, total),
            speed=megabytes(lang, speed),
            left=left_text(lang, eta),
        )
    else:
        line = text(lang, "progress_line_unknown", done=megabytes(lang, done), speed=megabytes(lang, speed))
    return "\n".join(part for part in (head, title, line) if part)


def cancel_button(lang: str, codec: CallbackCodec, job_id: int) -> Button:
    return Button(text=text(lang, "button_cancel"), data=codec.encode(ACTION_CANCEL, job_id))


def cancel_keyboard(lang: str, codec: CallbackCodec, job_id: int) -> Keyboard:
    return [[cancel_button(lang, codec, job_id)]]
