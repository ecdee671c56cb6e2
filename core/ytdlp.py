"""Which yt-dlp this environment has, and how old it is.

Read from the installed distribution's metadata on disk, not from the imported module, so that a
process that imported yt-dlp before an upgrade (the gateway) still tells what the downloaders run.
yt-dlp's versions are its release dates: 2026.08.19, or 2026.08.19.123456 for a nightly build.
"""

from __future__ import annotations

import datetime
import importlib.metadata

DISTRIBUTION = "yt-dlp"
JS_SCRIPTS = "yt-dlp-ejs"  # the JavaScript challenge solvers yt-dlp runs for YouTube, released with it
REQUIREMENT = "yt-dlp[default,curl-cffi]"  # as requirements.txt has it: impersonation for the sites that need it
DATE_PARTS = 3


def installed_version(distribution: str = DISTRIBUTION) -> str | None:
    """The installed version, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def release_date(version: str) -> datetime.date | None:
    """The date a yt-dlp version was released, from the version itself; None if it has none."""
    parts = version.split(".")[:DATE_PARTS]
    try:
        year, month, day = (int("".join(ch for ch in p if ch.isdigit()) or "x") for p in parts)
        return datetime.date(year, month, day)
    except ValueError:
        return None


def age_days(version: str, today: datetime.date | None = None) -> int | None:
    released = release_date(version)
    if released is None:
        return None
    return ((today or datetime.date.today()) - released).days
