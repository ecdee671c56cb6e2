"""The moment a link points at: YouTube's `t=` (`t=90`, `t=90s`, `t=1m30s`, `t=1h2m3s`) or
`start=` in the query or the fragment (`#t=90`), as whole seconds; 0 when it names none.

The file is sent with Telegram's `start_timestamp` (it plays from there); the media and its
cache key stay those of the whole video.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

PARAMS = ("t", "start", "time_continue")
MAX_START_S = 24 * 3600  # a larger value is not a moment of a video we would send
_SPELLED = re.compile(r"^(?:(\d{1,3})h)?(?:(\d{1,4})m)?(?:(\d{1,6})s?)?$")


def start_of(url: str) -> int:
    try:
        parts = urlsplit(url)
    except ValueError:
        return 0
    for source in (parts.query, parts.fragment):
        values = parse_qs(source, keep_blank_values=False)
        for name in PARAMS:
            for value in values.get(name, []):
                seconds = _seconds(value.strip().lower())
                if seconds:
                    return seconds
    return 0


def _seconds(value: str) -> int:
    match = _SPELLED.match(value) if value else None
    if match is None or not any(match.groups()):
        return 0
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    return total if 0 < total <= MAX_START_S else 0
