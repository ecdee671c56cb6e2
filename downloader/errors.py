"""Every failure of a download, sorted into one class of `core.failures` (the one `Failure` type):
what the user is told, whether it is retried, whether it counts against the platform's breaker.

`classify(exc)` walks the exception and everything it wraps (yt-dlp's `DownloadError.exc_info`,
`ExtractorError.cause`, `NoSupportingHandlers.unexpected_errors`, `__cause__`/`__context__`) and
tries `RULES` in order; the first rule that matches decides. The raw text (`Failure.reason`) is for
the log and the admins; users only ever see the class's text.

Why rules are ordered as they are: the platform's own words are the most specific evidence
("Private video. Sign in if you've been granted access" is private, not login; YouTube's
"This content isn't available, try again later" is its rate limit, not a missing video), so the
specific phrases come first; then exception types and HTTP statuses; then broad words ("not
found", "unavailable") which would misread a "503 Service Unavailable" if they came earlier.

Decisions worth knowing:
- HTTP 403 is `private`: the site refuses us this item; retrying gets the same answer and the
  platform is not broken (a private file on one site must not pause the whole platform). But a 403
  on the media itself, after the page was read ("unable to download video data"), is `extractor`:
  the platform refused the stream URLs yt-dlp worked out (YouTube does this), so it is retried and
  counts against the breaker.
- HTTP 5xx, resets, timeouts, truncated reads, TLS errors are `network`: transient, and they count
  against the breaker (the platform, or our way to it, is failing for everyone).
- `extractor` (yt-dlp could not read the site: `ExtractorError(expected=False)`, "No video formats
  found") is retried, since sites A/B-test page layouts, and counts against the breaker; `internal`
  (anything unknown, our own bugs) is retried too, at most JOB_ATTEMPTS times, because unknown
  failures are more often passing glitches than bugs, but it never pauses a platform.
- `bot_check` is retried: it is about our session (IP, cookies), not the item; the next try runs
  with the next cookie file (the failing one is set aside) or the next download proxy.
- `login_required` is not retried: the item needs an account the bot does not have.
- Members-only videos and accounts one must follow are `private`, not `login_required`: signing
  in would not help, so they must not make a good cookie file be set aside.
- `disk_full` is retried: space comes back when finished files are uploaded and deleted.
"""

from __future__ import annotations

import email.utils
import errno
import http.client
import logging
import math
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import msgspec
import trio
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import (
    ContentTooShortError,
    DownloadCancelled,
    ExtractorError,
    GeoRestrictedError,
    RegexNotFoundError,
    UnsupportedError,
    UserNotLive,
)

from core.backoff import retry_delay
from core.config import Settings
from core.failures import CLASSES, ClassInfo, ErrorClass, Failure, with_values
from core.texts import text

__all__ = [
    "CLASSES",
    "RULES",
    "ClassInfo",
    "ClassifiedError",
    "ErrorClass",
    "Failure",
    "classify",
    "failure_text",
    "log_failure",
    "retry_delay",
    "user_text",
]

log = logging.getLogger("downloader.errors")

_REASON_MAX = 1000  # characters of raw reason kept (jobs.error, log lines)
_CHAIN_MAX = 20  # exceptions looked at in one chain (guards against cycles and huge groups)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Not matched against: URLs and video ids, which hold words of the user's choosing.
_URL = re.compile(r"https?://\S+")


_C = ErrorClass


class ClassifiedError(Exception):
    """Raised by our own code when it knows the class (caps, the SSRF guard, an open circuit).

    Subclass it with a class attribute (`error_class = ErrorClass.FORBIDDEN_ADDRESS`) or pass
    `cls`. Anywhere in a chain (even wrapped by yt-dlp), it decides the class before any rule.
    """

    error_class: ErrorClass = ErrorClass.INTERNAL

    def __init__(self, reason: str, cls: ErrorClass | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        if cls is not None:
            self.error_class = cls
        self.retry_after = retry_after


# ---- the rules ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Matches when `test` holds for any exception of the chain, or `pattern` is in its text."""

    cls: ErrorClass
    test: Callable[[BaseException], bool] | None = None
    pattern: re.Pattern[str] | None = None
    why: str = ""


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.IGNORECASE)


def _status(*codes: int) -> Callable[[BaseException], bool]:
    return lambda e: isinstance(e, HTTPError) and e.status in codes


def _status_range(lo: int, hi: int) -> Callable[[BaseException], bool]:
    return lambda e: isinstance(e, HTTPError) and lo <= e.status <= hi


def _is(*types: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda e: isinstance(e, types)


def _no_space(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)


def _unexpected_extractor_error(e: BaseException) -> bool:
    return isinstance(e, RegexNotFoundError) or (isinstance(e, ExtractorError) and not e.expected)


_APOS = "['’‘`´]"  # YouTube writes "you’re" with a curly apostrophe, yt-dlp's own texts a straight one

RULES: tuple[Rule, ...] = (
    # -- what yt-dlp's control flow or the OS says outright (a ClassifiedError anywhere goes before all)
    Rule(_C.CANCELLED, _is(DownloadCancelled, trio.Cancelled, KeyboardInterrupt)),
    Rule(_C.DISK_FULL, _no_space, _words(r"No space left on device", r"Disk quota exceeded")),
    # -- the platform's own words, most specific first
    Rule(
        _C.BOT_CHECK,
        pattern=_words(
            rf"confirm (?:that )?you(?:{_APOS}re| are) not a (?:ro)?bot",
            r"requiring a captcha",
            r"unusual traffic",
        ),
    ),
    Rule(_C.GEO_BLOCKED, _is(GeoRestrictedError)),
    Rule(_C.NOT_FOUND, _is(UserNotLive), why="a channel's /live link with nothing live: nothing to fetch"),
    Rule(
        _C.PRIVATE,
        pattern=_words(
            r"private video",
            r"(?:video|post|account|content|profile|tweet) is private",
            r"has been made private",
            r"who follow this account",
            r"members[- ]only",
            r"join this channel",
            r"available to this channel.s members",
            r"protected tweet",
        ),
    ),
    Rule(
        _C.GEO_BLOCKED,
        pattern=_words(
            r"available in your country",
            r"not available (?:from|in) your (?:location|region|area)",
            r"geo[- ]?restrict",
            r"blocked in your (?:country|region)",
            r"IP address is blocked",
        ),
    ),
    Rule(
        _C.RATE_LIMITED,
        pattern=_words(
            r"rate[- ]?limit",  # YouTube "rate-limited by YouTube", Instagram "exceeded the rate-limit"
            rf"isn{_APOS}t available, try again later",
            r"too many requests",
            r"HTTP Error 429",
        ),
    ),
    Rule(
        _C.LIVE,
        pattern=_words(
            r"live event will begin",
            r"premieres? in ",
            r"premiere will begin",
            r"\bis (?:currently )?live\b(?! chat)",
            r"is a live ?stream",
            r"live streams? (?:is|are) not supported",
        ),
    ),
    Rule(
        _C.LOGIN_REQUIRED,
        pattern=_words(
            r"log ?in required",
            r"login (?:is )?required",
            r"sign in to confirm your age",
            r"age[- ]?(?:restricted|gated|verification)",
            r"inappropriate for some users",
            r"only available for registered users",
            r"requires? (?:authentication|login|an account|you to log ?in)",
            r"you need to log ?in",
            r"redirected to the login page",
            r"use --cookies",
            r"--cookies-from-browser",
            r"log in for access",
        ),
    ),
    Rule(
        _C.UNSUPPORTED,
        pattern=_words(r"DRM protected", r"there is no video in this post", r"no media found"),
    ),
    Rule(
        _C.TOO_LARGE,
        pattern=_words(r"larger than max-filesize", r"file is too (?:large|big)"),
    ),
    Rule(_C.TOO_LONG, pattern=_words(r"(?:video|media|duration) is too long", r"longer than the maximum")),
    # A media URL refused after the page was read: the platform's protection (expired or unsigned
    # stream URLs), not the item; a new try extracts fresh URLs.
    Rule(_C.EXTRACTOR, pattern=_words(r"unable to download video data: HTTP Error 403")),
    # -- exception types and HTTP statuses
    Rule(_C.UNSUPPORTED, _is(UnsupportedError)),
    Rule(_C.RATE_LIMITED, _status(429)),
    Rule(_C.GEO_BLOCKED, _status(451)),
    Rule(_C.NOT_FOUND, _status(404, 410)),
    Rule(_C.LOGIN_REQUIRED, _status(401)),
    Rule(_C.PRIVATE, _status(403), why="the site refuses this item to us; see the module docstring"),
    Rule(_C.NOT_FOUND, _status_range(400, 499), why="any other 4xx: the link's problem, not ours; not retried"),
    Rule(_C.NETWORK, _status_range(500, 599)),
    Rule(
        _C.NETWORK,
        _is(
            TransportError,  # yt-dlp's: IncompleteRead, SSLError, ProxyError, resets, refusals, timeouts
            ContentTooShortError,
            http.client.HTTPException,
            ssl.SSLError,
            socket.timeout,
            TimeoutError,
            ConnectionError,
            socket.gaierror,
        ),
    ),
    # -- the same again when only the text survived (yt-dlp's downloader reports some as strings)
    Rule(_C.UNSUPPORTED, pattern=_words(r"Unsupported URL", r"is not a valid URL", r"no suitable extractor")),
    Rule(
        _C.UNSUPPORTED,
        pattern=_words(r"No connection adapters were found", r"Unsupported url scheme"),
        why="a redirect out of the web (file://, ftp://...): the link holds nothing to download; a retry gets the same",
    ),
    Rule(_C.GEO_BLOCKED, pattern=_words(r"HTTP Error 451")),
    Rule(_C.NOT_FOUND, pattern=_words(r"HTTP Error 404", r"HTTP Error 410")),
    Rule(_C.LOGIN_REQUIRED, pattern=_words(r"HTTP Error 401")),
    Rule(_C.PRIVATE, pattern=_words(r"HTTP Error 403")),
    Rule(_C.NOT_FOUND, pattern=_words(r"HTTP Error 4\d\d")),
    Rule(
        _C.NETWORK,
        pattern=_words(
            r"HTTP Error 5\d\d",
            r"timed? ?out",
            r"connection (?:reset|refused|aborted|broken)",
            r"remote end closed",
            r"network (?:error|is unreachable)",
            r"bytes read, \d+ more expected",
            r"did not get any data blocks",
            r"temporary failure in name resolution",
            r"name or service not known",
            r"\bSSL\b",
            r"EOF occurred in violation",
        ),
    ),
    Rule(
        _C.NOT_FOUND,
        pattern=_words(
            r"video unavailable",
            r"has been removed",
            r"no longer available",
            r"has been terminated",
            r"account (?:has been )?(?:terminated|suspended|deleted)",
            rf"(?:content|video|post|page|tweet) (?:isn{_APOS}t|is not) available",
            r"does not exist",
            r"\b(?:video|page|post|media|user|account|tweet|content|channel|playlist) (?:was )?not found\b",
            r"has been deleted",
            r"is unavailable",
            r"not currently live",
        ),
    ),
    Rule(_C.EXTRACTOR, _unexpected_extractor_error, _words(r"no video formats found", r"unable to extract")),
)


def classify(exc: BaseException) -> Failure:
    """The class of `exc`, its raw reason (for the log), and how long the platform asked us to wait."""
    chain = list(_chain(exc))
    reason = _reason(chain)
    retry_after = _retry_after(chain)
    for e in chain:  # yt-dlp leaves an error's response open for its body: nobody reads it now
        if isinstance(e, HTTPError):
            e.close()
    for e in chain:
        if isinstance(e, ClassifiedError):
            return Failure(e.error_class, reason, e.retry_after if e.retry_after is not None else retry_after)
    haystack = _haystack(chain)
    for rule in RULES:
        if (rule.test is not None and any(rule.test(e) for e in chain)) or (
            rule.pattern is not None and rule.pattern.search(haystack)
        ):
            return Failure(rule.cls, reason, retry_after)
    return Failure(_C.INTERNAL, reason, retry_after)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps, outermost first, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < _CHAIN_MAX:
        e = todo.pop(0)
        if any(e is s for s in seen):
            continue
        seen.append(e)
        yield e
        exc_info = getattr(e, "exc_info", None)  # DownloadError, ExtractorError: the original exception
        if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
            todo.append(exc_info[1])
        cause = getattr(e, "cause", None)  # ExtractorError, RequestError
        if isinstance(cause, BaseException):
            todo.append(cause)
        for name in ("unexpected_errors", "exceptions"):  # NoSupportingHandlers, exception groups
            inner = getattr(e, name, None)
            if isinstance(inner, list | tuple):
                todo.extend(x for x in inner if isinstance(x, BaseException))
        for linked in (e.__cause__, e.__context__):
            if linked is not None:
                todo.append(linked)


def _haystack(chain: list[BaseException]) -> str:
    """The chain's messages, without the URLs and video ids in them (a generic id is the file name)."""
    ids = {e.video_id for e in chain if isinstance(e, ExtractorError) and isinstance(e.video_id, str) and e.video_id}
    # yt-dlp writes "[ie] <id>: message" (after "ERROR: " in a DownloadError): only that place is cut.
    prefixes = [re.compile(rf"(^|\] |ERROR: ){re.escape(video_id)}: ", re.MULTILINE) for video_id in ids]
    messages = []
    for e in chain:
        message = _URL.sub("<url>", _message(e))
        for prefix in prefixes:
            message = prefix.sub(r"\1<id>: ", message)
        messages.append(message)
    return "\n".join(messages)


def _message(e: BaseException) -> str:
    try:
        text_ = str(e)
    except Exception:  # a broken __str__ must not break classification
        text_ = ""
    return _ANSI.sub("", text_).replace("\r", "")


def _reason(chain: list[BaseException]) -> str:
    top = chain[0]
    message = _message(top).strip()
    if message.startswith("ERROR:"):
        message = message[len("ERROR:") :].strip()
    if not message:
        message = next((m for m in map(_message, chain[1:]) if m.strip()), "")
    reason = f"{type(top).__name__}: {message}" if message else type(top).__name__
    return reason[:_REASON_MAX]


def _retry_after(chain: list[BaseException]) -> float | None:
    for e in chain:
        if isinstance(e, HTTPError) and e.status in (429, 503):
            try:
                value = e.response.headers.get("Retry-After")
            except Exception:
                value = None
            if value:
                return _parse_retry_after(str(value))
    return None


def _parse_retry_after(value: str, now: float | None = None) -> float | None:
    """Retry-After is either seconds or an HTTP date."""
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


# ---- retries -------------------------------------------------------------------------------------


# ---- what users and the log get ------------------------------------------------------------------


def user_text(cls: ErrorClass, lang: str, **values: object) -> str:
    """The user's message for `cls`, numbers in the language's digits."""
    return text(lang, CLASSES[cls].text_key, **values)


def text_values(failure: Failure, settings: Settings) -> dict[str, int | float | str]:
    """What the class's text needs filled in, taken from the settings (limits, minutes to wait)."""
    return dict(with_values(msgspec.structs.replace(failure, values={}), settings).values)


def failure_text(failure: Failure, lang: str, settings: Settings) -> str:
    """The user's message for `failure`, with its limits taken from the settings."""
    return user_text(failure.cls, lang, **text_values(failure, settings))


def guard_failure(refusal: GuardRefusal) -> Failure:
    """A fetch the egress guard refused (SSRF, a scheme, credentials): permanent, never the
    platform's fault. The reason (which rule) picks the user's text; the detail stays in the log."""
    return Failure(ErrorClass.FORBIDDEN_ADDRESS, f"egress guard: {refusal.reason}: {refusal.detail}")


class GuardRefusal(Protocol):
    @property
    def reason(self) -> str: ...

    @property
    def detail(self) -> str: ...


def for_job(failure: Failure, settings: Settings) -> Failure:
    """The failure with what its text needs filled in from the settings, as the job records it."""
    return with_values(failure, settings)


def log_failure(
    logger: logging.Logger, job_id: int, failure: Failure, *, attempt: int | None = None, final: bool = True
) -> None:
    """The one log line of a failed try: job id, class and raw reason (never shown to the user)."""
    tries = f" (try {attempt})" if attempt is not None else ""
    outcome = "failed" if final else "will be retried"
    level = logging.INFO if failure.cls is ErrorClass.CANCELLED else logging.WARNING
    logger.log(level, "job %d %s%s: %s: %s", job_id, outcome, tries, failure.cls, failure.reason)
