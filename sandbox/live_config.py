"""The sandbox's limits and injected faults, changeable while it runs (`POST /sandbox/config`).

Start values come only from `core.config.Settings` (the SANDBOX_* settings: `from_settings`), and so
do the ranges a new value must keep (each key is checked by its setting's own parser); `apply` takes
the JSON body of `POST /sandbox/config`, where every key is optional:

    {"limits": bool, "bot_rate": float, "chat_rate": float, "chat_burst": int, "group_per_min": int,
     "upload_limit_mb": int, "cloud_mode": bool,
     "faults": {"fail_rate": 0..1, "fail_methods": [..], "fail_status": 500|502|503|504,
                "latency_ms": int, "latency_methods": [..], "drop_rate": 0..1, "drop_methods": [..],
                "flood_every": N, "flood_retry_after": seconds, "flood_next": N,
                "flood_methods": [..], "upload_rate": bytes/s}}

Empty `fail_methods` / `latency_methods` / `drop_methods` mean every Bot API method (a latency
on some methods only lets a later call overtake an earlier one, as on a real network). `flood_every: N` refuses every
Nth send with a 429; `flood_next: N` refuses the next N sends (then counts down to 0).
`flood_methods` answers every call of the named methods with a 429 of `flood_retry_after` (a
FloodWait on, say, getChatMember) until the list is emptied again.
`upload_rate` reads uploaded files at most that many bytes a second (0: as fast as they come), a
slow uplink: an upload is then on its way for a while, and one stopped half way delivers nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings

MIB = 1024 * 1024
CLOUD_UPLOAD_LIMIT_MB = 50  # the cloud Bot API's cap for bots
FAIL_STATUSES = (500, 502, 503, 504)
MAX_LATENCY_MS = 120_000
SETTING_PREFIX = "sandbox_"  # a top-level key `k` is the setting `sandbox_k` (SANDBOX_K)


class ConfigError(ValueError):
    """A bad value in a config body; the message names the key."""


@dataclass
class Faults:
    fail_rate: float = 0.0
    fail_methods: list[str] = field(default_factory=list)
    fail_status: int = 500
    latency_ms: int = 0
    latency_methods: list[str] = field(default_factory=list)
    drop_rate: float = 0.0
    drop_methods: list[str] = field(default_factory=list)
    flood_every: int = 0
    flood_retry_after: int = 5
    flood_next: int = 0
    flood_methods: list[str] = field(default_factory=list)
    upload_rate: int = 0


@dataclass
class LiveConfig:
    limits: bool
    bot_rate: float
    chat_rate: float
    chat_burst: int
    group_per_min: int
    upload_limit_mb: int
    cloud_mode: bool
    faults: Faults = field(default_factory=Faults)

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveConfig:
        return cls(
            limits=settings.sandbox_limits,
            bot_rate=settings.sandbox_bot_rate,
            chat_rate=settings.sandbox_chat_rate,
            chat_burst=settings.sandbox_chat_burst,
            group_per_min=settings.sandbox_group_per_min,
            upload_limit_mb=settings.sandbox_upload_limit_mb,
            cloud_mode=settings.sandbox_cloud_mode,
        )

    @property
    def upload_limit_bytes(self) -> int | None:
        """The largest file accepted, or None when limits are off."""
        if not self.limits:
            return None
        limit_mb = min(self.upload_limit_mb, CLOUD_UPLOAD_LIMIT_MB) if self.cloud_mode else self.upload_limit_mb
        return limit_mb * MIB

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def apply(self, body: Any) -> None:
        """Change the keys present in `body`; nothing changes when any value is bad."""
        if not isinstance(body, dict):
            raise ConfigError("the body must be a JSON object")
        updated = dataclasses.replace(self, faults=dataclasses.replace(self.faults))
        for key, value in body.items():
            if key == "faults":
                _apply_faults(updated.faults, value)
            elif key in _TOP_LEVEL:
                setattr(updated, key, _TOP_LEVEL[key](key, value))
            else:
                raise ConfigError(f"{key}: unknown key; known: {', '.join([*_TOP_LEVEL, 'faults'])}")
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(updated, f.name))


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: must be true or false")
    return value


def _setting(key: str) -> Any:
    """The check of top-level `key`: its JSON type, then its SANDBOX_* setting's own parser (ranges)."""
    f = next(f for f in dataclasses.fields(Settings) if f.name == SETTING_PREFIX + key)
    if isinstance(f.default, bool):
        return _bool
    whole = isinstance(f.default, int)

    def check(key: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            raise ConfigError(f"{key}: must be a {'whole ' if whole else ''}number")
        try:
            parsed: float | int = f.metadata["parse"](str(value))
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        return parsed

    return check


def _number(lo: float, hi: float, whole: bool = False) -> Any:
    def check(key: str, value: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
            raise ConfigError(f"{key}: must be a {'whole ' if whole else ''}number")
        if not lo <= value <= hi:
            raise ConfigError(f"{key}: must be between {lo:g} and {hi:g}")
        return int(value) if whole else float(value)

    return check


def _methods(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: must be a list of Bot API method names")
    return list(value)


def _status(key: str, value: Any) -> int:
    if value not in FAIL_STATUSES or isinstance(value, bool):
        raise ConfigError(f"{key}: must be one of {', '.join(map(str, FAIL_STATUSES))}")
    return int(value)


_TOP_LEVEL = {f.name: _setting(f.name) for f in dataclasses.fields(LiveConfig) if f.name != "faults"}
_FAULTS = {
    "fail_rate": _number(0, 1),
    "fail_methods": _methods,
    "fail_status": _status,
    "latency_ms": _number(0, MAX_LATENCY_MS, whole=True),
    "latency_methods": _methods,
    "drop_rate": _number(0, 1),
    "drop_methods": _methods,
    "flood_every": _number(0, 1_000_000, whole=True),
    "flood_retry_after": _number(1, 86400, whole=True),
    "flood_next": _number(0, 1_000_000, whole=True),
    "flood_methods": _methods,
    "upload_rate": _number(0, 10 * 1024**3, whole=True),
}


def _apply_faults(faults: Faults, body: Any) -> None:
    if not isinstance(body, dict):
        raise ConfigError("faults: must be a JSON object")
    for key, value in body.items():
        if key not in _FAULTS:
            raise ConfigError(f"faults.{key}: unknown key; known: {', '.join(_FAULTS)}")
        setattr(faults, key, _FAULTS[key](f"faults.{key}", value))
