"""Every message between the bot's processes, declared once.

Wire format
-----------
One message is one ZeroMQ message whose last frame is a MessagePack map:

    {"t": <tag>, <field>: <value>, ..., "v": <version>}

- `t` is the type's tag, its class name (`"JobAssign"`); it is read first to pick the type.
- `v` is the type's schema version (1 for all types today). A receiver drops a message whose
  version differs from the one it knows; bump `v`'s default when a change is not compatible.
- Unknown extra fields are ignored (tolerant reader), so adding an optional field is compatible.
- ROUTER sockets put the peer's identity in a frame before the payload; no other frames are used.

`decode` never raises: an unknown tag, a wrong version or malformed bytes logs one warning per kind
of problem and returns None, and the caller drops the message. `drop_counts()` counts the drops.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Final

import msgspec

__all__ = [
    "JOB_EVENT_KINDS",
    "Credit",
    "Drain",
    "Heartbeat",
    "JobAssign",
    "JobEvent",
    "Message",
    "Metrics",
    "OutboxNotice",
    "ProcessInfo",
    "ProcessTable",
    "Ready",
    "RpcReply",
    "RpcRequest",
    "decode",
    "drop_counts",
    "encode",
    "note_drop",
]

log = logging.getLogger(__name__)


class _Tagged(msgspec.Struct, frozen=True, tag_field="t", kw_only=True):
    """Base of every message: tagged by class name, with a schema version `v` (keyword-only)."""

    v: int = 1


# ---- control: supervisor <-> children ----------------------------------------------------------


class Ready(_Tagged, frozen=True):
    """Child -> supervisor: my sockets are bound and my database is open."""

    name: str
    pid: int


class Heartbeat(_Tagged, frozen=True):
    """Child -> supervisor (control) and -> monitor (telemetry): I am alive; `busy` jobs running."""

    name: str
    pid: int
    sent_at: float
    busy: int = 0


class Drain(_Tagged, frozen=True):
    """Supervisor -> child: stop taking new work, finish or hand back what runs, then exit."""


class ProcessInfo(msgspec.Struct, frozen=True):
    """One row of the supervisor's process table (nested in `ProcessTable`, never sent alone)."""

    name: str
    pid: int
    restarts: int
    state: str
    started_at: float
    last_exit: str = ""


class ProcessTable(_Tagged, frozen=True):
    """Supervisor -> monitor: every child's pid, restarts and state."""

    processes: list[ProcessInfo]
    sent_at: float


# ---- jobs: gateway <-> downloaders -------------------------------------------------------------


class Credit(_Tagged, frozen=True):
    """Downloader -> gateway: I have `slots` more free slots; send me that many more jobs."""

    worker: str
    slots: int


class JobAssign(_Tagged, frozen=True):
    """Gateway -> downloader: download `url` for `chat_id`; the job's row is in the database."""

    job_id: int
    url: str
    chat_id: int
    user_id: int
    format_id: str
    attempt: int


JOB_EVENT_KINDS: Final = frozenset({"accepted", "progress", "done", "failed", "cancelled"})


class JobEvent(_Tagged, frozen=True):
    """Downloader -> gateway: what happened to a job; `kind` is one of `JOB_EVENT_KINDS`.

    `progress` is a fraction 0..1 for kind "progress"; `detail` carries a reason or a file path.
    """

    job_id: int
    worker: str
    kind: str
    progress: float = 0.0
    detail: str = ""

    def __post_init__(self) -> None:
        if self.kind not in JOB_EVENT_KINDS:
            raise ValueError(f"JobEvent.kind must be one of {sorted(JOB_EVENT_KINDS)}, not {self.kind!r}")


# ---- outbox: anything -> uploader --------------------------------------------------------------


class OutboxNotice(_Tagged, frozen=True):
    """Look at outbox row `item_id`: the durable copy is the database row, this is only a nudge."""

    item_id: int


# ---- monitor RPC: gateway -> monitor -------------------------------------------------------------


class RpcRequest(_Tagged, frozen=True):
    """Call `method` with `params`; the reply carries the same `req_id`."""

    req_id: int
    method: str
    params: dict[str, Any]


class RpcReply(_Tagged, frozen=True):
    """Answer to the request `req_id`: `result` when `ok`, else `error` says why."""

    req_id: int
    ok: bool
    result: dict[str, Any]
    error: str = ""


# ---- telemetry: every process -> monitor ---------------------------------------------------------


class Metrics(_Tagged, frozen=True):
    """A process's counters and gauges at `sent_at` (names are Prometheus-style, unit-suffixed)."""

    name: str
    pid: int
    sent_at: float
    values: dict[str, float]


Message = (
    Ready
    | Heartbeat
    | Drain
    | ProcessTable
    | Credit
    | JobAssign
    | JobEvent
    | OutboxNotice
    | RpcRequest
    | RpcReply
    | Metrics
)
"""Any message that can travel on its own."""

_TYPES: tuple[type[_Tagged], ...] = (
    Ready,
    Heartbeat,
    Drain,
    ProcessTable,
    Credit,
    JobAssign,
    JobEvent,
    OutboxNotice,
    RpcRequest,
    RpcReply,
    Metrics,
)
_VERSIONS: dict[type[_Tagged], int] = {
    cls: next(f.default for f in msgspec.structs.fields(cls) if f.name == "v") for cls in _TYPES
}
_VERSION_BY_TAG: dict[str, int] = {cls.__name__: version for cls, version in _VERSIONS.items()}

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Message)
_any_decoder = msgspec.msgpack.Decoder()


def encode(msg: Message) -> bytes:
    """The message as MessagePack bytes (see the wire format above)."""
    return _encoder.encode(msg)


def decode(data: bytes) -> Message | None:
    """The message in `data`, or None (logged once per kind of problem) if it cannot be used."""
    try:
        msg: Message = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        _explain_invalid(data, exc)
        return None
    except Exception as exc:  # DecodeError; also UnicodeDecodeError on a broken string
        note_drop("malformed", "", "not MessagePack (%s: %s)", type(exc).__name__, exc)
        return None
    expected = _VERSIONS[type(msg)]
    if msg.v != expected:
        note_drop(
            "wrong version", type(msg).__name__, "%s version %d, expected %d", type(msg).__name__, msg.v, expected
        )
        return None
    return msg


def _explain_invalid(data: bytes, exc: msgspec.ValidationError) -> None:
    """Tell an unknown tag and a foreign version apart from bad fields, for a useful warning."""
    try:
        raw = _any_decoder.decode(data)
    except Exception:  # it parsed once; be safe all the same
        raw = None
    tag = raw.get("t") if isinstance(raw, dict) else None
    if not isinstance(tag, str):
        note_drop("not a message", "", "no tag (%s)", exc)
    elif tag not in _VERSION_BY_TAG:
        note_drop("unknown tag", tag, "unknown message tag %r", tag)
    elif raw.get("v") != _VERSION_BY_TAG[tag]:
        note_drop("wrong version", tag, "%s version %r, expected %d", tag, raw.get("v"), _VERSION_BY_TAG[tag])
    else:
        note_drop("invalid fields", tag, "%s with invalid fields (%s)", tag, exc)


# ---- dropped messages: counted always, logged once per kind ---------------------------------------

_MAX_LOGGED_KINDS = 256  # a peer sending ever-new tags must not grow this set without bound
_dropped: Counter[str] = Counter()
_logged: set[tuple[str, str]] = set()


def note_drop(problem: str, subject: str, fmt: str, *args: object) -> None:
    """Count a dropped message; warn the first time this (problem, subject) is seen."""
    _dropped[problem] += 1
    key = (problem, subject if len(_logged) < _MAX_LOGGED_KINDS else "*")
    if key in _logged:
        return
    _logged.add(key)
    log.warning("dropped a message: " + fmt + " (further ones of this kind are only counted)", *args)


def drop_counts() -> dict[str, int]:
    """How many messages this process dropped, by problem (for metrics)."""
    return dict(_dropped)
