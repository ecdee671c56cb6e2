"""Every failure of a job, as one type: its class and the raw reason.

The class says what the user is told (a text in every language), whether the job is tried again
(JOB_ATTEMPTS, with back-off) and whether it counts against the platform's circuit breaker. The
raw reason is for the log and the admins only. The downloader sorts its exceptions into classes
(`downloader/errors.py`), the uploader and the gateway name theirs directly; a `Failure` travels
in messages as it is (`ipc.messages.JobFailed`, `DeliveryFailed`) and the gateway, the one writer
of jobs, records it (`core.jobs.fail`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import msgspec

from core.config import MIB, Settings
from core.texts import text

__all__ = ["CLASSES", "ClassInfo", "ErrorClass", "Failure", "error_text", "with_values"]

_SECONDS_PER_MINUTE = 60


class ErrorClass(enum.StrEnum):
    UNSUPPORTED = enum.auto()
    STREAM_UNSUPPORTED = enum.auto()  # only ffmpeg could fetch it, around the egress guard
    PRIVATE = enum.auto()
    LOGIN_REQUIRED = enum.auto()
    BOT_CHECK = enum.auto()
    GEO_BLOCKED = enum.auto()
    NOT_FOUND = enum.auto()
    TOO_LARGE = enum.auto()
    TOO_LONG = enum.auto()
    LIVE = enum.auto()
    RATE_LIMITED = enum.auto()
    NETWORK = enum.auto()
    DISK_FULL = enum.auto()
    FORBIDDEN_ADDRESS = enum.auto()  # the SSRF guard refused the address
    UNAVAILABLE = enum.auto()  # the platform's circuit is open
    CANCELLED = enum.auto()  # the user (or a drain) stopped it; not an error to show
    EXTRACTOR = enum.auto()  # yt-dlp could not read the site (it changed)
    BLOCKED = enum.auto()  # the user blocked the bot while their file was on its way
    INTERNAL = enum.auto()  # anything else


@dataclass(frozen=True)
class ClassInfo:
    retryable: bool  # transient: tried again with back-off, up to JOB_ATTEMPTS
    platform_fault: bool  # counts toward the platform's circuit breaker
    text_key: str  # core/texts key of the user's message
    values: tuple[str, ...] = ()  # what the text needs filled in


_C = ErrorClass
# The class table: one row per class.
CLASSES: dict[ErrorClass, ClassInfo] = {
    _C.UNSUPPORTED: ClassInfo(False, False, "error_unsupported"),
    _C.STREAM_UNSUPPORTED: ClassInfo(False, False, "error_stream_unsupported"),
    _C.PRIVATE: ClassInfo(False, False, "error_private"),
    _C.LOGIN_REQUIRED: ClassInfo(False, False, "error_login_required"),
    _C.BOT_CHECK: ClassInfo(True, True, "error_bot_check"),
    _C.GEO_BLOCKED: ClassInfo(False, False, "error_geo_blocked"),
    _C.NOT_FOUND: ClassInfo(False, False, "error_not_found"),
    _C.TOO_LARGE: ClassInfo(False, False, "error_too_large", ("limit",)),
    _C.TOO_LONG: ClassInfo(False, False, "error_too_long", ("limit",)),
    _C.LIVE: ClassInfo(False, False, "error_live"),
    _C.RATE_LIMITED: ClassInfo(True, True, "error_rate_limited"),
    _C.NETWORK: ClassInfo(True, True, "error_network"),
    _C.DISK_FULL: ClassInfo(True, False, "error_disk_full"),
    _C.FORBIDDEN_ADDRESS: ClassInfo(False, False, "error_forbidden_address"),
    _C.UNAVAILABLE: ClassInfo(False, False, "error_unavailable", ("minutes",)),
    _C.CANCELLED: ClassInfo(False, False, "error_cancelled"),
    _C.EXTRACTOR: ClassInfo(True, True, "error_extractor"),
    _C.BLOCKED: ClassInfo(False, False, "error_blocked"),
    _C.INTERNAL: ClassInfo(True, False, "error_internal"),
}


class Failure(msgspec.Struct, frozen=True):
    """One classified failure. `reason` is raw text for the log and admins, never for users."""

    cls: ErrorClass
    reason: str
    retry_after: float | None = None  # seconds the platform asked us to wait (Retry-After)
    values: dict[str, int | float | str] = {}  # for the user's text, e.g. {"limit": 50}
    text_key: str = ""  # the user's text, when not the class's own (e.g. which guard rule refused)

    @property
    def info(self) -> ClassInfo:
        return CLASSES[self.cls]

    @property
    def retryable(self) -> bool:
        return CLASSES[self.cls].retryable

    @property
    def platform_fault(self) -> bool:
        return CLASSES[self.cls].platform_fault


def error_text(lang: str, failure: Failure) -> str:
    """What the user reads: the class's text (or the failure's own), with its values; the
    internal error's text if a value it needs is missing."""
    info = CLASSES[failure.cls]
    if not failure.text_key and any(name not in failure.values for name in info.values):
        return text(lang, "error_internal")
    try:
        return text(lang, failure.text_key or info.text_key, **failure.values)
    except KeyError:
        return text(lang, "error_internal")


def with_values(failure: Failure, settings: Settings) -> Failure:
    """The failure with what its class's text needs, from the settings where it does not say."""
    values: dict[str, int | float | str] = {}
    if failure.cls is ErrorClass.TOO_LARGE:
        values["limit"] = settings.max_file_bytes // MIB
    elif failure.cls is ErrorClass.TOO_LONG:
        values["limit"] = round(settings.max_duration_min)
    elif failure.cls is ErrorClass.UNAVAILABLE:
        wait = failure.retry_after if failure.retry_after is not None else settings.circuit_recovery
        values["minutes"] = max(1, math.ceil(wait / _SECONDS_PER_MINUTE))
    return msgspec.structs.replace(failure, values={**values, **failure.values})
