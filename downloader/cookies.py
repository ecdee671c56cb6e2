"""Cookie files for the platforms that need them, picked in turn, each job working on its own copy.

Layout under DATA_DIR/cookies/: `<platform>.txt`, and/or several files in `<platform>/*.txt` that
rotate (least recently used first). `<platform>` is the extractor's family name (`platform_name`).
A file is used only if it is a regular file, not readable by group or others (mode 0600 or 0400),
and in Netscape format (what browser extensions export and yt-dlp reads). A refused file costs one
log line per problem, not one per job; its contents never reach a log.

A file that leads to "login required" or the bot check is set aside (the `cookie_files` table) and
the admins are told; it is used again once replaced, i.e. once its modification time is newer than
the moment it was set aside. Each job gets a private copy in its spool folder, because yt-dlp
writes the cookies it received back into the file it was given.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import stat
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from core.alerts import Alerter
from core.db import write_tx
from downloader.errors import ErrorClass, Failure

__all__ = [
    "COOKIE_COPY_NAME",
    "SET_ASIDE_CLASSES",
    "CookieStore",
    "cookie_files",
    "earliest_expiry",
    "file_problem",
    "platform_name",
]

log = logging.getLogger("downloader.cookies")

COOKIE_COPY_NAME = "cookies.txt"  # the job's copy, in its spool folder
SET_ASIDE_CLASSES = frozenset({ErrorClass.LOGIN_REQUIRED, ErrorClass.BOT_CHECK})
_SUFFIX = ".txt"
_PRIVATE_MODE = 0o600
_OPEN_TO_OTHERS = 0o077
_MAX_BYTES = 16 * 1024 * 1024  # a cookie export is a few KiB; refuse to read something huge
_HEADERS = ("# Netscape HTTP Cookie File", "# HTTP Cookie File")
_MAGIC = re.compile(r"#( Netscape)? HTTP Cookie File")  # http.cookiejar's test of the first line
_FIELDS = 7  # domain, include subdomains, path, secure, expiry, name, value
_HTTPONLY_PREFIX = "#HttpOnly_"  # a cookie line, not a comment
_FLAGS = ("TRUE", "FALSE")
_EXPIRES = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NOT_NETSCAPE = "not in Netscape cookie format (export it with a 'cookies.txt' browser extension)"
_EXTRACTOR_PACKAGE = "yt_dlp.extractor."
_NOT_A_NAME = re.compile(r"[^a-z0-9_]")


@functools.lru_cache(maxsize=512)
def platform_name(extractor_key: str) -> str:
    """The cookie folder's name for an extractor key: the family, in lower case.

    Rule: yt-dlp keeps each site's extractors in one module named for the site (yt_dlp/extractor/
    youtube/, instagram.py, tiktok.py), so the family is that module's name: 'Youtube', 'YoutubeTab',
    'YoutubeShortsAudioPivot' -> 'youtube'; 'Instagram', 'InstagramStory' -> 'instagram'; 'TikTokVM'
    -> 'tiktok'. A key yt-dlp does not know becomes itself in lower case, letters, digits and _ only.
    """
    from yt_dlp.extractor import get_info_extractor

    module = ""
    try:
        ie = get_info_extractor(extractor_key)
        module = str(getattr(ie, "_module", None) or ie.__module__)  # lazy extractors name the real module
    except Exception:  # an unknown key: yt-dlp raises AttributeError or KeyError
        pass
    if module.startswith(_EXTRACTOR_PACKAGE):
        return module[len(_EXTRACTOR_PACKAGE) :].split(".")[0]
    return _NOT_A_NAME.sub("", extractor_key.lower()) or "unknown"


class CookieStore:
    def __init__(
        self,
        cookies_dir: Path,
        db: sqlite_utils.Database,
        *,
        alert: Alerter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cookies_dir = Path(cookies_dir)
        self.db = db
        self.alert = alert
        self.clock = clock
        self._refused: dict[str, str] = {}  # file -> the problem already logged for it

    platform_name = staticmethod(platform_name)

    def pick(self, platform: str) -> Path | None:
        """The file to use for `platform` now: the least recently used usable one, or None."""
        candidates = self._candidates(platform)
        if not candidates:
            return None
        records = self._records(platform)
        best: tuple[tuple[bool, float, str], Path] | None = None
        for path in candidates:
            name = self._name(path)
            set_aside_at, last_used_at = records.get(name, (None, None))
            if not self._usable(path, name, set_aside_at):
                continue
            order = (last_used_at is not None, last_used_at or 0.0, name)
            if best is None or order < best[0]:
                best = (order, path)
        return None if best is None else best[1]

    def copy_for_job(self, path: Path, job_dir: Path) -> Path:
        """A private (0600) copy of `path` in `job_dir`, for yt-dlp's `cookiefile`; the original stays as it is.

        The copy starts with the Netscape header even when the original has none (yt-dlp needs it)."""
        job_dir.mkdir(parents=True, exist_ok=True)
        copy = job_dir / COOKIE_COPY_NAME
        data = _with_header(path.read_text(encoding="utf-8")).encode()
        fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, _PRIVATE_MODE)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), _PRIVATE_MODE)  # also when an older copy with other bits was there
            out.write(data)
        return copy

    def mark_used(self, path: Path) -> None:
        name = self._name(path)
        with write_tx(self.db):
            self.db.execute(
                "INSERT INTO cookie_files (path, platform, uses, last_used_at) VALUES (?, ?, 1, ?)"
                " ON CONFLICT (path) DO UPDATE SET uses = uses + 1, last_used_at = excluded.last_used_at",
                [name, self._platform_of(name), self.clock()],
            )

    def set_aside(self, path: Path, reason: str) -> bool:
        """Stop using `path` until it is replaced, and tell the admins. False if it already was."""
        name = self._name(path)
        platform = self._platform_of(name)
        with write_tx(self.db):
            row = self.db.execute("SELECT set_aside_at FROM cookie_files WHERE path = ?", [name]).fetchone()
            if row is not None and row[0] is not None and not self._replaced(path, row[0]):
                return False  # another job (or process) set it aside already
            self.db.execute(
                "INSERT INTO cookie_files (path, platform, set_aside_at, reason) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (path) DO UPDATE SET set_aside_at = excluded.set_aside_at, reason = excluded.reason",
                [name, platform, self.clock(), reason],
            )
            log.warning("cookie file %s set aside: %s", name, reason)
            # Per file, so that a second bad file of the same platform is not held back by the cooldown.
            try:
                self.alert(
                    f"cookies:{platform}:{path.name}",
                    "alert_cookies_set_aside",
                    platform=platform,
                    file=name,
                    reason=reason,
                )
            except Exception:  # the file stays set aside even if the admins could not be told
                log.exception("cookie file %s: could not alert the admins", name)
        return True

    def after_failure(self, path: Path, failure: Failure) -> bool:
        """Set `path` aside when `failure` says its cookies no longer work; True if that happened now."""
        return failure.cls in SET_ASIDE_CLASSES and self.set_aside(path, str(failure.cls))

    # ---- helpers ---------------------------------------------------------------------------------

    def _candidates(self, platform: str) -> list[Path]:
        if _NOT_A_NAME.search(platform):
            raise ValueError(f"not a platform name: {platform!r}")
        found = []
        single = self.cookies_dir / f"{platform}{_SUFFIX}"
        if single.exists():
            found.append(single)
        folder = self.cookies_dir / platform
        if folder.is_dir():
            found.extend(sorted(p for p in folder.iterdir() if p.name.endswith(_SUFFIX)))
        return found

    def _records(self, platform: str) -> dict[str, tuple[float | None, float | None]]:
        rows = self.db.execute(
            "SELECT path, set_aside_at, last_used_at FROM cookie_files WHERE platform = ?", [platform]
        ).fetchall()
        return {name: (set_aside_at, last_used_at) for name, set_aside_at, last_used_at in rows}

    def _usable(self, path: Path, name: str, set_aside_at: float | None) -> bool:
        if set_aside_at is not None:
            if not self._replaced(path, set_aside_at):
                return False
            with write_tx(self.db):
                self.db.execute("UPDATE cookie_files SET set_aside_at = NULL, reason = NULL WHERE path = ?", [name])
            log.info("cookie file %s was replaced: using it again", name)
            platform = self._platform_of(name)
            self.alert.resolve(f"cookies:{platform}:{path.name}", "alert_cookies_ok", platform=platform, file=name)
        problem = self._problem(path)
        if problem is None:
            if self._refused.pop(name, None) is not None:
                log.info("cookie file %s is usable now", name)
            return True
        if self._refused.get(name) != problem:
            self._refused[name] = problem
            log.warning("cookie file %s refused: %s", name, problem)
        return False

    def _replaced(self, path: Path, set_aside_at: float) -> bool:
        try:
            return path.stat().st_mtime > set_aside_at
        except OSError:
            return False

    def _problem(self, path: Path) -> str | None:
        return file_problem(path)

    def _name(self, path: Path) -> str:
        """The file's name in the table and the logs: relative to the cookies folder."""
        return Path(path).relative_to(self.cookies_dir).as_posix()

    @staticmethod
    def _platform_of(name: str) -> str:
        first = name.split("/", 1)[0]
        return first[: -len(_SUFFIX)] if first.endswith(_SUFFIX) and "/" not in name else first


def file_problem(path: Path) -> str | None:
    """Why `path` cannot be used as a cookie file (without a word of its contents), or None."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    mode = stat.S_IMODE(st.st_mode)
    if mode & _OPEN_TO_OTHERS:
        return f"mode {mode:04o} lets others read it; run chmod 600 on it"
    if st.st_size > _MAX_BYTES:
        return f"too big for a cookie file ({st.st_size} bytes)"
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    except UnicodeDecodeError:
        return "not a text file"
    return _format_problem(content) or _load_problem(content)


def cookie_files(cookies_dir: Path) -> list[Path]:
    """Every cookie file the store would consider, for every platform."""
    if not cookies_dir.is_dir():
        return []
    found = sorted(p for p in cookies_dir.iterdir() if p.name.endswith(_SUFFIX))
    for folder in sorted(p for p in cookies_dir.iterdir() if p.is_dir()):
        found += sorted(p for p in folder.iterdir() if p.name.endswith(_SUFFIX))
    return found


def earliest_expiry(path: Path) -> float | None:
    """The soonest expiry (Unix time) among the file's cookies; None for session cookies only.
    Call it on a file `file_problem` accepted."""
    soonest: float | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or (line.startswith("#") and not line.startswith(_HTTPONLY_PREFIX)):
            continue
        expires = line.split("\t")[4]
        if expires and float(expires) > 0:
            soonest = float(expires) if soonest is None else min(soonest, float(expires))
    return soonest


def _format_problem(content: str) -> str | None:
    """Why `content` is not a Netscape cookie file yt-dlp loads cleanly, or None.

    Stricter than yt-dlp on purpose: yt-dlp skips a bad line with a warning that prints the line,
    cookie value included, to stderr; here such a file is refused before yt-dlp ever sees it.
    """
    lines = [line.rstrip("\r\n") for line in content.splitlines() if line.strip()]
    cookies = [line for line in lines if not line.startswith("#") or line.startswith(_HTTPONLY_PREFIX)]
    if not cookies:
        return "no cookies in it" if lines and lines[0].startswith(_HEADERS) else _NOT_NETSCAPE
    for number, line in enumerate(cookies, 1):
        fields = line.removeprefix(_HTTPONLY_PREFIX).split("\t")
        if len(fields) != _FIELDS:
            return f"{_NOT_NETSCAPE}: cookie {number} has {len(fields)} fields, not {_FIELDS}"
        domain, subdomains, _path, secure, expires, _name, _value = fields
        if subdomains not in _FLAGS or secure not in _FLAGS:
            return f"{_NOT_NETSCAPE}: cookie {number} has a flag that is not TRUE or FALSE"
        if (subdomains == "TRUE") != domain.startswith("."):
            return f"{_NOT_NETSCAPE}: cookie {number}: a domain with a leading dot needs TRUE, without one FALSE"
        if expires and not _EXPIRES.fullmatch(expires):
            return f"{_NOT_NETSCAPE}: cookie {number} has an expiry that is not a number"
    return None


def _with_header(content: str) -> str:
    """`content` starting with the header line, which yt-dlp's loader requires on the very first line."""
    return content if _MAGIC.match(content) else f"{_HEADERS[0]}\n{content}"


def _load_problem(content: str) -> str | None:
    """What yt-dlp's own cookie loader says (only the error's type: never contents)."""
    from yt_dlp.cookies import YoutubeDLCookieJar

    try:
        YoutubeDLCookieJar().load(io.StringIO(_with_header(content)))
    except Exception as exc:
        return f"yt-dlp cannot load it ({type(exc).__name__})"
    return None
