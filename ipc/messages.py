"""Every message between the bot's processes, declared once.

Wire format
-----------
One message is one ZeroMQ message whose last frame is a MessagePack map:

    {"t": <tag>, <field>: <value>, ..., "v": <version>}

- `t` is the type's tag, its class name (`"JobAssign"`); it is read first to pick the type.
- `v` is the type's schema version (1 for most types; JobAssign is at 3; JobDownloaded, JobFailed,
  the RPC, Metrics, FileOffer and FileChunk at 2). A receiver drops a message whose version
  differs from the one it knows; bump `v`'s default when a change is not compatible.
- Unknown extra fields are ignored (tolerant reader), so adding an optional field is compatible.
- ROUTER sockets put the peer's identity in a frame before the payload; no other frames are used.

`decode` never raises: an unknown tag, a wrong version or malformed bytes logs one warning per kind
of problem and returns None, and the caller drops the message. `drop_counts()` counts the drops.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Final

import msgspec

from core.failures import Failure

__all__ = [
    "CREDIT_KINDS",
    "FILE_MESSAGES",
    "HOST_JOINED",
    "HOST_LEFT",
    "HOST_LOST",
    "RELAYED",
    "TASKS",
    "UPLOAD_EVENTS",
    "WORKER_EVENTS",
    "WORKER_REPORTS",
    "ActiveAlert",
    "AlertRaised",
    "BreakerState",
    "Credit",
    "CreditsDropped",
    "DeliveryFailed",
    "DownloadedFile",
    "Drain",
    "Echo",
    "Failure",
    "FileAck",
    "FileChunk",
    "FileMissing",
    "FileOffer",
    "FormatChoice",
    "HealthQuery",
    "HealthReport",
    "Heartbeat",
    "HistogramSample",
    "HostHealth",
    "HostHello",
    "HostStatus",
    "HostWelcome",
    "JobAssign",
    "JobCancel",
    "JobClaim",
    "JobDelivered",
    "JobDownloaded",
    "JobEvent",
    "JobFailed",
    "JobHandBack",
    "JobProbed",
    "JobProgress",
    "JobStarted",
    "LimitsChanged",
    "MachineHealth",
    "Message",
    "MetricSample",
    "Metrics",
    "OutboxNotice",
    "PlaylistEntry",
    "Probe",
    "ProcessHealth",
    "ProcessInfo",
    "ProcessTable",
    "QueueHealth",
    "Ready",
    "ReportAck",
    "RpcCall",
    "RpcReply",
    "RpcRequest",
    "RpcResult",
    "UpdateStatus",
    "UpdateYtdlp",
    "UploadEvent",
    "WorkerEvent",
    "WorkerJobs",
    "WorkerReport",
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
    port: int = 0  # the TCP port it serves people on, once bound (the monitor's /healthz); 0: none


class Heartbeat(_Tagged, frozen=True):
    """Child -> supervisor (control) and -> monitor (telemetry): I am alive; `busy` jobs running."""

    name: str
    pid: int
    sent_at: float
    busy: int = 0


class Drain(_Tagged, frozen=True):
    """Supervisor -> child: stop taking new work, finish or hand back what runs, then exit."""


class UpdateYtdlp(_Tagged, frozen=True):
    """Anyone -> supervisor (an admin's /ytdlp update, or `run.py update-ytdlp`): upgrade yt-dlp,
    check it on a sample link, restart the downloaders one at a time (or roll back)."""

    req_id: int


class UpdateStatus(_Tagged, frozen=True):
    """Supervisor -> whoever asked (`UpdateYtdlp`): `started` or `busy` at once, then `done` or
    `failed` with what happened (`detail`) and the versions before and after."""

    req_id: int
    state: str
    detail: str = ""
    old_version: str = ""
    new_version: str = ""


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


class LimitsChanged(_Tagged, frozen=True):
    """Gateway -> supervisor -> every child (control): the runtime limits an admin set, all of them
    (env name -> the value as written; a name left out is back at its start value). The supervisor
    keeps the latest and sends it to each child that reports ready (`core.runtime_limits`)."""

    values: dict[str, str]
    sent_at: float


# ---- jobs: gateway <-> downloaders -------------------------------------------------------------

CREDIT_KINDS: Final = ("any", "probe")
TASKS: Final = ("probe", "download")


class Credit(_Tagged, frozen=True):
    """Downloader -> gateway: I have `slots` more free slots of `kind`; send me that many more jobs.

    A "probe" slot takes only probes, so a probe never waits behind long downloads; an "any"
    slot takes either task.
    """

    worker: str
    slots: int
    kind: str = "any"


class JobAssign(_Tagged, frozen=True, kw_only=True):
    """Gateway -> downloader: run `task` for job `job_id`. It carries everything the downloader
    needs: a downloader never reads the gateway's database.

    `lease` grows with every dispatch of the job: a result whose lease is not the job's current
    one comes from a worker the job was taken from, and is thrown away. `format_key` is what the
    user asked for ("best", "v:720", "a:mp3", "file"; "" for a probe).
    """

    job_id: int
    lease: int
    task: str
    url: str
    chat_id: int
    user_id: int
    format_key: str
    attempt: int
    platform: str = ""  # yt-dlp's extractor for the URL, as far as the URL tells (breakers, cookies)
    slot: str = "any"  # the kind of credit it answers (CREDIT_KINDS)
    audio_format: str = ""  # the user's audio format ("m4a", "mp3") for an audio-only choice
    subtitles: str = ""  # a video's subtitles are wanted, in this language (else the original's); "": none
    v: int = 3


# ---- job events: downloaders -> gateway (on the job channel); uploader -> gateway (PUSH -> PULL) ---
# The gateway is the one writer of jobs: it applies these through core.jobstates. A downloader's
# results (probed, downloaded, failed, a claim, a hand-back) are *reports*: the gateway answers
# each with a ReportAck, and the downloader keeps its files and sends the report again (after a
# gateway restart, say) until it is acknowledged; a report under a stale lease is refused. The
# rest (started, progress, the jobs held) is news and needs no answer.


class FormatChoice(msgspec.Struct, frozen=True):
    """One choice a probe found: `key` as in core.formats ("v:720", "v:best", "a:m4a", "file")."""

    key: str
    height: int = 0
    size: int = 0  # bytes, exact or estimated; 0: unknown


class PlaylistEntry(msgspec.Struct, frozen=True):
    url: str
    title: str = ""


class Probe(msgspec.Struct, frozen=True):
    """What a probe learnt of a link, without downloading it. Stored in `media_probes` as JSON.

    `kind` is "video", "audio", "file" (neither: sent as a document without a question) or
    "playlist" (then `entries` holds the first PLAYLIST_MAX_ITEMS entries).
    """

    kind: str
    title: str = ""
    platform: str = ""
    duration: float = 0.0
    is_live: bool = False
    uploader: str = ""
    thumbnail: str = ""
    webpage_url: str = ""
    choices: list[FormatChoice] = []
    entries: list[PlaylistEntry] = []
    entry_count: int = 0
    subtitles: list[str] = []  # the languages of the source's own subtitles (not automatic captions)


class JobStarted(_Tagged, frozen=True):
    """Downloader -> gateway: the worker took the job (its slot is busy)."""

    job_id: int
    lease: int
    worker: str


class JobProgress(_Tagged, frozen=True):
    """Downloader -> gateway, at most once per PROGRESS_REPORT_INTERVAL: how far the job is.

    `phase` is "probing" (no bytes yet), "downloading" or "converting"; byte counts are 0 when unknown.
    """

    job_id: int
    lease: int
    worker: str
    phase: str
    done_bytes: int = 0
    total_bytes: int = 0
    speed: float = 0.0  # bytes/s
    eta: float = 0.0  # seconds; 0: unknown


class JobProbed(_Tagged, frozen=True):
    """Downloader -> gateway (a report when the task was a probe): the probe's findings;
    `media_key` is the canonical key they are cached under (for the generic extractor, known
    only now: the final URL after redirects). A download tells it too, before it fetches, so
    that others waiting for the same media can go on."""

    job_id: int
    lease: int
    worker: str
    media_key: str
    probe: Probe


class DownloadedFile(msgspec.Struct, frozen=True):
    """One file of a finished download, in the downloader's spool (nested in JobDownloaded)."""

    path: str
    kind: str  # video, audio, document
    size: int
    duration: int = 0
    width: int = 0
    height: int = 0
    thumbnail: str = ""
    part: int = 1
    parts: int = 1


class JobDownloaded(_Tagged, frozen=True, kw_only=True):
    """Downloader -> gateway (a report): the files are in the spool folder `folder` (this
    attempt's own). Acknowledged as accepted, they are the uploader's; refused (a stale lease,
    a cancelled job), the downloader removes them."""

    job_id: int
    lease: int
    worker: str
    media_key: str
    format_key: str  # as resolved: the cache key of the file ("v:720", not "best")
    title: str = ""
    performer: str = ""
    files: list[DownloadedFile] = []
    folder: str = ""
    took_s: float = 0.0  # yt-dlp's and ffmpeg's time, for the figures of the bot's own overhead
    v: int = 2


class JobFailed(_Tagged, frozen=True, kw_only=True):
    """Downloader -> gateway (a report): the try failed; the gateway retries the job or ends it."""

    job_id: int
    lease: int
    worker: str
    failure: Failure
    v: int = 2


class JobClaim(_Tagged, frozen=True):
    """Downloader -> gateway (a report): the probe found a plain file, nothing to choose: may it
    be fetched now, in the probe's stride? Accepted, the job is the download."""

    job_id: int
    lease: int
    worker: str
    size: int = 0  # bytes, as far as the probe knows (0: unknown), for the spool's budget


class JobHandBack(_Tagged, frozen=True):
    """Downloader -> gateway (a report): the worker drains; the job goes back to the queue untried."""

    job_id: int
    lease: int
    worker: str


class WorkerJobs(_Tagged, frozen=True):
    """Downloader -> gateway, every heartbeat: the jobs (id, lease) it holds right now (running,
    or with a report not yet acknowledged)."""

    worker: str
    jobs: list[tuple[int, int]]
    sent_at: float


class BreakerState(_Tagged, frozen=True):
    """Downloader -> gateway: a platform's circuit breaker changed (or the whole table, on
    connect); the gateway keeps a mirror for the admins' /circuit."""

    platform: str
    state: str  # core.breakers.State
    failures: int
    opened_at: float | None
    probe_job: int | None
    updated_at: float


class ReportAck(_Tagged, frozen=True):
    """Gateway -> downloader: the report `report` (its tag) of (job_id, lease) was applied
    (`accepted`), or refused: the job moved on, the lease is stale."""

    job_id: int
    lease: int
    report: str
    accepted: bool


class JobCancel(_Tagged, frozen=True):
    """Gateway -> downloader: stop (job_id, lease) and remove its files: the job was cancelled,
    taken from this worker, or ended otherwise."""

    job_id: int
    lease: int
    why: str = ""


class CreditsDropped(_Tagged, frozen=True):
    """Gateway -> downloader: the free slots this worker had asked for are forgotten (it was
    silent past HEARTBEAT_TIMEOUT): if it is alive, it asks for them again. Sent after every job
    already handed to it, so the credits still unanswered when it arrives are the dropped ones."""


class JobDelivered(_Tagged, frozen=True):
    """Uploader -> gateway: the job's files are all sent: the job is done."""

    job_id: int
    upload_s: float = 0.0


class DeliveryFailed(_Tagged, frozen=True):
    """Uploader -> gateway: a file of the job cannot be sent: the job fails with `failure`."""

    job_id: int
    failure: Failure


class FileMissing(_Tagged, frozen=True):
    """Uploader -> gateway: the job's file is gone (a spool file missing, or a cached file_id
    Telegram no longer knows): the job is downloaded again, within its attempts."""

    job_id: int
    reason: str


# ---- outbox: anything -> uploader --------------------------------------------------------------


class OutboxNotice(_Tagged, frozen=True):
    """Look at outbox row `item_id`: the durable copy is the database row, this is only a nudge."""

    item_id: int


# ---- monitor RPC: gateway -> monitor -------------------------------------------------------------
# A request carries one call; the reply carries the result of that call's type. Calls and results
# are tagged structs (not messages on their own): `RpcServer.serve` picks the handler by the
# call's type and turns a failing handler into an error reply.


class HealthQuery(msgspec.Struct, frozen=True, tag=True):
    """What the monitor knows: answered with a `HealthReport`."""


class Echo(msgspec.Struct, frozen=True, tag=True):
    """Answered with itself: for the RPC's own tests and benchmark."""

    text: str = ""


class ProcessHealth(msgspec.Struct, frozen=True):
    """One process as the monitor sees it (the supervisor's table, heartbeats, psutil)."""

    name: str
    pid: int
    state: str  # the supervisor's: starting, ready, backoff, cooling, given-up, stopped; or "stalled"
    rss_bytes: int
    cpu_percent: float
    heartbeat_age_s: float | None  # None: no heartbeat from this pid yet (or it sends none)
    restarts: int
    threads: int = 0
    open_files: int = 0  # file descriptors, sockets included
    last_exit: str = ""


class QueueHealth(msgspec.Struct, frozen=True):
    queued: int
    running: int


class MachineHealth(msgspec.Struct, frozen=True):
    """psutil's view of the machine at the last health check (0 before the first)."""

    disk_free_bytes: int = 0
    disk_free_pct: float = 0.0
    memory_pct: float = 0.0
    cpu_pct: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    spool_bytes: int = 0
    database_bytes: int = 0
    checked_at: float = 0.0


class ActiveAlert(msgspec.Struct, frozen=True):
    """An alert that has not cleared: its text is `text_key` of core.texts filled with `values`."""

    kind: str
    text_key: str
    values: dict[str, str]
    since: float
    announced: bool  # the admins were told (False: held back by the cooldown, told when it ends)


HOST_JOINED, HOST_LOST, HOST_LEFT = "joined", "lost", "left"  # a HostHealth's states


class HostHealth(msgspec.Struct, frozen=True):
    """A downloader host as the monitor sees it (its HostStatus, timed by the monitor's clock)."""

    name: str
    state: str  # joined, lost (silent past HEARTBEAT_TIMEOUT) or left (stopped on purpose)
    seen_age_s: float
    downloaders: int
    machine: MachineHealth


class HealthReport(msgspec.Struct, frozen=True, tag=True):
    """The monitor's whole report: /healthz serves it as JSON, /health shows it to admins."""

    status: str  # ok, degraded or down
    uptime_s: float
    backend: str  # mtproto, botapi or sandbox
    processes: list[ProcessHealth]
    queue: QueueHealth
    active_users_24h: int
    alerts: list[ActiveAlert]
    machine: MachineHealth
    hosts: list[HostHealth] = []  # the downloader hosts that joined (JOB_LISTEN), this one not included


RpcCall = HealthQuery | Echo
RpcResult = HealthReport | Echo


class RpcRequest(_Tagged, frozen=True, kw_only=True):
    """Make `call`; the reply carries the same `req_id`."""

    req_id: int
    call: RpcCall
    v: int = 2


class RpcReply(_Tagged, frozen=True, kw_only=True):
    """Answer to the request `req_id`: `result` when `ok`, else `error` says why."""

    req_id: int
    ok: bool
    result: RpcResult | None = None
    error: str = ""
    v: int = 2


# ---- telemetry: every process -> monitor ---------------------------------------------------------


class MetricSample(msgspec.Struct, frozen=True, array_like=True):
    """One series of a core.metrics family: a counter's total since the process started, or a
    gauge's value; `labels` in the family's order."""

    family: str
    labels: tuple[str, ...]
    value: float


class HistogramSample(msgspec.Struct, frozen=True, array_like=True):
    """One series of a histogram: observations per bucket (not cumulative; the last is +Inf)."""

    family: str
    labels: tuple[str, ...]
    counts: tuple[int, ...]
    sum: float


class Metrics(_Tagged, frozen=True, kw_only=True):
    """A process's core.metrics values at `sent_at`, as totals since it (this pid) started."""

    name: str
    pid: int
    sent_at: float
    samples: list[MetricSample] = []
    histograms: list[HistogramSample] = []
    v: int = 2


class AlertRaised(_Tagged, frozen=True):
    """Any process -> monitor (telemetry): something an admin must hear of; the monitor applies the
    cooldown per kind, writes the admins' messages and later the "resolved" one."""

    name: str  # the process, e.g. "downloader-1"
    kind: str  # the alert kind, one cooldown each, e.g. "disk", "breaker:Youtube", "cookie:youtube"
    text_key: str  # core.texts key of the message, e.g. "alert_disk_full"
    values: dict[str, str] = {}
    resolved: bool = False
    sent_at: float = 0.0


# ---- downloader hosts: a joined host <-> the main host (issue 18, over the CURVE link) -------------


class HostHello(_Tagged, frozen=True):
    """A joined host's supervisor -> gateway: I am `host`; what must I know? (answered by HostWelcome)."""

    host: str
    pid: int
    workers: int


class HostWelcome(_Tagged, frozen=True):
    """Gateway -> a joined host: the settings it takes from the main host (env name -> value):
    in sandbox mode the sandbox's origin."""

    host: str
    settings: dict[str, str]


class HostStatus(_Tagged, frozen=True):
    """A joined host's supervisor -> gateway -> monitor, every heartbeat: its processes (with
    psutil's figures, read on that host) and its machine."""

    host: str
    processes: list[ProcessHealth]
    machine: MachineHealth
    sent_at: float
    leaving: bool = False  # it is stopping on purpose (SIGTERM): no alert for its going


class FileOffer(_Tagged, frozen=True, kw_only=True):
    """Downloader -> gateway: I have file `name` of job `job_id`'s attempt `lease` (`size` bytes);
    where shall I start? Answered by a FileAck, sent again until it is. `sha256`: the whole file's,
    once the sender has read it all (it hashes as it sends), else empty."""

    v: int = 2
    job_id: int
    lease: int
    name: str
    size: int
    sha256: str


class FileChunk(_Tagged, frozen=True, kw_only=True):
    """Downloader -> gateway: bytes of an offered file at `offset`, with their CRC-32; the last
    one (it ends the file) carries the whole file's `sha256`."""

    v: int = 2
    job_id: int
    lease: int
    name: str
    offset: int
    data: bytes
    crc32: int
    sha256: str = ""


class FileAck(_Tagged, frozen=True, kw_only=True):
    """Gateway -> downloader: I have the file's first `offset` bytes, send up to `until` (credit).
    `path`: the whole file checked and in the main host's spool there; `error`: given up (a
    checksum that does not match, a bad name, no room), start again or fail the job."""

    job_id: int
    lease: int
    name: str
    offset: int
    until: int
    path: str = ""
    error: str = ""


Message = (
    Ready
    | Heartbeat
    | Drain
    | UpdateYtdlp
    | UpdateStatus
    | ProcessTable
    | LimitsChanged
    | Credit
    | JobAssign
    | JobStarted
    | JobProgress
    | JobProbed
    | JobDownloaded
    | JobFailed
    | JobClaim
    | JobHandBack
    | WorkerJobs
    | BreakerState
    | ReportAck
    | JobCancel
    | CreditsDropped
    | JobDelivered
    | DeliveryFailed
    | FileMissing
    | OutboxNotice
    | RpcRequest
    | RpcReply
    | Metrics
    | AlertRaised
    | HostHello
    | HostWelcome
    | HostStatus
    | FileOffer
    | FileChunk
    | FileAck
)
"""Any message that can travel on its own."""

_TYPES: tuple[type[_Tagged], ...] = (
    Ready,
    Heartbeat,
    Drain,
    UpdateYtdlp,
    UpdateStatus,
    ProcessTable,
    LimitsChanged,
    Credit,
    JobAssign,
    JobStarted,
    JobProgress,
    JobProbed,
    JobDownloaded,
    JobFailed,
    JobClaim,
    JobHandBack,
    WorkerJobs,
    BreakerState,
    ReportAck,
    JobCancel,
    CreditsDropped,
    JobDelivered,
    DeliveryFailed,
    FileMissing,
    OutboxNotice,
    RpcRequest,
    RpcReply,
    Metrics,
    AlertRaised,
    HostHello,
    HostWelcome,
    HostStatus,
    FileOffer,
    FileChunk,
    FileAck,
)
FILE_MESSAGES: Final = (FileOffer, FileChunk)
"""What a downloader sends to stream a file home (on the job channel)."""
RELAYED: Final = (Heartbeat, Metrics, AlertRaised, HostStatus)
"""Telemetry a joined host sends over its link, which the gateway passes on to the monitor."""
WorkerReport = JobProbed | JobDownloaded | JobFailed | JobClaim | JobHandBack
"""A downloader's report: acknowledged by the gateway, sent again until it is."""
WorkerEvent = JobStarted | JobProgress | WorkerReport | WorkerJobs | BreakerState
"""What a downloader sends the gateway on the job channel (besides its credits)."""
UploadEvent = JobDelivered | DeliveryFailed | FileMissing
"""What the uploader tells the gateway (events channel)."""
JobEvent = WorkerEvent | UploadEvent
"""Every event the gateway applies to jobs."""
WORKER_REPORTS: Final = (JobProbed, JobDownloaded, JobFailed, JobClaim, JobHandBack)
WORKER_EVENTS: Final = (JobStarted, JobProgress, *WORKER_REPORTS, WorkerJobs, BreakerState)
UPLOAD_EVENTS: Final = (JobDelivered, DeliveryFailed, FileMissing)

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
