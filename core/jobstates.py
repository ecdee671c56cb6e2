"""A job's life, declared once: its states, the moves between them, one guarded update per move.

```
            ┌────────────── probed (attempts 0) ──────────────┐
            ▼                                                  │
 new ──▶ queued ──dispatch──▶ probing ──claim_file──▶ downloading ──downloaded──▶ uploading ──delivered──▶ done
          │ ▲ ▲                  │                        │   ▲                       │
          │ │ └── retry, hand_back, reclaim (a downloader's try ended) ─┘   │           │
          │ └─── chosen ◀── choosing ◀── ask                               │           │
          │                                     redownload (the file is lost) ◀──────┘
          └── from_cache, expand (a playlist waits for its entries) ──▶ uploading
 fail ──▶ failed and cancel ──▶ cancelled, from every state that is not final
```

Every move is one UPDATE that names the states it may start from and, for a downloader's moves,
the lease it holds: `UPDATE jobs SET state = <to> ... WHERE id = ? AND state IN (<from>) AND
lease = ?`. It says whether the job moved; a job that moved on (cancelled, taken from a silent
worker, moved by another path) is left alone, so two writers never both move a job and a stale
worker's result cannot land. A final state never changes (a trigger in the schema refuses it),
which is what makes every answer to the user come exactly once.

The gateway is the only caller: downloaders and the uploader report events, the gateway applies
them here. No other code writes `jobs.state` or spells a state in SQL: read queries take their
state lists from `sql_in`.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the monitor imports this (through core.outbox) without sqlite-utils
    import sqlite_utils

__all__ = [
    "ACTIVE",
    "FINAL",
    "ON_A_DOWNLOADER",
    "TABLE",
    "JobState",
    "Move",
    "Rule",
    "allowed",
    "sql_in",
]


class JobState(enum.StrEnum):
    QUEUED = "queued"  # waiting for a downloader: a probe while no format is chosen, else the download
    PROBING = "probing"  # a downloader looks at the link (lease)
    CHOOSING = "choosing"  # the user picks a format
    DOWNLOADING = "downloading"  # a downloader fetches and converts it (lease)
    UPLOADING = "uploading"  # its files are in the outbox (or a playlist waits for its entries)
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


S = JobState
FINAL = (S.DONE, S.FAILED, S.CANCELLED)
ACTIVE = tuple(s for s in S if s not in FINAL)
ON_A_DOWNLOADER = (S.PROBING, S.DOWNLOADING)  # held by a downloader under a lease


class Move(enum.StrEnum):
    DISPATCH_PROBE = "dispatch_probe"  # a free probe slot takes it
    DISPATCH_DOWNLOAD = "dispatch_download"
    CLAIM_FILE = "claim_file"  # the probe found a plain file: fetched in the probe's stride
    PROBED = "probed"  # the probe's findings are in (or a download met a playlist)
    DOWNLOADED = "downloaded"  # its files are in the spool and their outbox rows written
    RETRY = "retry"  # the try failed and another comes after a back-off
    HAND_BACK = "hand_back"  # a draining worker gives it back untried
    RECLAIM = "reclaim"  # its worker went silent
    ASK = "ask"  # the user is asked for a format
    CHOSEN = "chosen"
    FROM_CACHE = "from_cache"  # sent again by file_id: no downloader needed
    EXPAND = "expand"  # a playlist became one job per entry and waits for them
    REDOWNLOAD = "redownload"  # the uploader lost the file (missing, or a file_id Telegram forgot)
    DELIVERED = "delivered"  # the last file is out (or the playlist's last entry is over)
    FAIL = "fail"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[JobState]
    target: JobState
    leased: bool = False  # the mover must name the lease it holds (a downloader's result)


def _from(*states: JobState) -> frozenset[JobState]:
    return frozenset(states)


TABLE: dict[Move, Rule] = {
    Move.DISPATCH_PROBE: Rule(_from(S.QUEUED), S.PROBING),
    Move.DISPATCH_DOWNLOAD: Rule(_from(S.QUEUED), S.DOWNLOADING),
    Move.CLAIM_FILE: Rule(_from(S.PROBING), S.DOWNLOADING, leased=True),
    Move.PROBED: Rule(_from(*ON_A_DOWNLOADER), S.QUEUED, leased=True),
    Move.DOWNLOADED: Rule(_from(S.DOWNLOADING), S.UPLOADING, leased=True),
    Move.RETRY: Rule(_from(*ON_A_DOWNLOADER), S.QUEUED, leased=True),
    Move.HAND_BACK: Rule(_from(*ON_A_DOWNLOADER), S.QUEUED, leased=True),
    Move.RECLAIM: Rule(_from(*ON_A_DOWNLOADER), S.QUEUED, leased=True),
    Move.ASK: Rule(_from(S.QUEUED), S.CHOOSING),
    Move.CHOSEN: Rule(_from(S.CHOOSING), S.QUEUED),
    Move.FROM_CACHE: Rule(_from(S.QUEUED), S.UPLOADING),
    Move.EXPAND: Rule(_from(S.QUEUED), S.UPLOADING),
    Move.REDOWNLOAD: Rule(_from(S.UPLOADING), S.QUEUED),
    Move.DELIVERED: Rule(_from(S.UPLOADING), S.DONE),
    Move.FAIL: Rule(_from(*ACTIVE), S.FAILED),
    Move.CANCEL: Rule(_from(*ACTIVE), S.CANCELLED),
}


def allowed(move: Move, state: JobState) -> bool:
    return state in TABLE[move].sources


def sql_in(*states: JobState) -> str:
    """`('a', 'b')`: a state list for a read query (never hand-spelled)."""
    return "(" + ", ".join(f"'{JobState(s).value}'" for s in states) + ")"


def sql_is(state: JobState) -> str:
    """`'a'`: one state for a read query (where a partial index needs the literal)."""
    return f"'{JobState(state).value}'"


# ---- the guarded update behind every move -----------------------------------------------------


def _apply(
    db: sqlite_utils.Database,
    job_ids: list[int],
    move: Move,
    *,
    lease: int | None = None,
    sets: str = "",
    params: dict[str, Any] | None = None,
    now: float | None = None,
) -> int:
    """Move the jobs that are in one of the move's source states (and hold `lease`); returns how
    many moved. `sets` is extra `column = :name, ...` SQL, `params` its values."""
    rule = TABLE[move]
    if rule.leased and lease is None:
        raise ValueError(f"{move} is a downloader's move: it needs the lease")
    values: dict[str, Any] = {
        **(params or {}),
        "to": rule.target.value,
        "now": time.time() if now is None else now,
        "lease": lease,
    }
    assignments = "state = :to, updated_at = :now" + (", finished_at = :now" if rule.target in FINAL else "")
    if sets:
        assignments += ", " + sets
    ids = ", ".join(str(int(j)) for j in job_ids)
    guard = f"id IN ({ids}) AND state IN {sql_in(*rule.sources)}" + (" AND lease = :lease" if lease is not None else "")
    return int(db.execute(f"UPDATE jobs SET {assignments} WHERE {guard}", values).rowcount)


def _one(db: sqlite_utils.Database, job_id: int, move: Move, **kwargs: Any) -> bool:
    return _apply(db, [job_id], move, **kwargs) == 1


# ---- one function per move (each one UPDATE; call inside the caller's transaction) -------------


def dispatch(db: sqlite_utils.Database, job_id: int, task: str, *, now: float | None = None) -> tuple[int, int] | None:
    """A queued job is handed to a downloader: a new lease and one more attempt. Returns (lease,
    attempt), or None when the job is no longer queued."""
    move = Move.DISPATCH_PROBE if task == "probe" else Move.DISPATCH_DOWNLOAD
    now = time.time() if now is None else now
    moved = _one(
        db,
        job_id,
        move,
        now=now,
        sets="lease = lease + 1, attempts = attempts + 1, worker = NULL, heartbeat_at = :now,"
        " file_path = NULL, started_at = coalesce(started_at, :now)",
    )
    if not moved:
        return None
    lease, attempts = db.execute("SELECT lease, attempts FROM jobs WHERE id = ?", [job_id]).fetchone()
    return int(lease), int(attempts)


def claim_file(db: sqlite_utils.Database, job_id: int, lease: int) -> bool:
    return _one(db, job_id, Move.CLAIM_FILE, lease=lease, sets="format_key = 'file'")


def probed(db: sqlite_utils.Database, job_id: int, lease: int, media_key: str) -> bool:
    """Back to the queue with what the probe found; the probe's try does not count against the
    download's tries."""
    return _one(
        db, job_id, Move.PROBED, lease=lease, sets="worker = NULL, attempts = 0, media_key = :key",
        params={"key": media_key},
    )  # fmt: skip


def downloaded(db: sqlite_utils.Database, job_id: int, lease: int, **columns: Any) -> bool:
    """The files are in; `columns` (media_key, format_key, media_kind, title, file_path, ...) go
    on the row in the same update."""
    sets = ", ".join(f"{_column(name)} = :{name}" for name in columns)
    return _one(db, job_id, Move.DOWNLOADED, lease=lease, sets=sets, params=columns)


def retry(
    db: sqlite_utils.Database, job_id: int, lease: int, *, not_before: float, error_class: str, error: str
) -> bool:
    return _one(
        db,
        job_id,
        Move.RETRY,
        lease=lease,
        sets="worker = NULL, not_before = :not_before, error_class = :error_class, error = :error",
        params={"not_before": not_before, "error_class": error_class, "error": error},
    )


def hand_back(db: sqlite_utils.Database, job_id: int, lease: int) -> bool:
    """Given back untried (its worker drains): the attempt does not count."""
    return _one(db, job_id, Move.HAND_BACK, lease=lease, sets="worker = NULL, attempts = max(attempts - 1, 0)")


def reclaim(db: sqlite_utils.Database, job_id: int, lease: int) -> bool:
    return _one(db, job_id, Move.RECLAIM, lease=lease, sets="worker = NULL")


def ask(db: sqlite_utils.Database, job_id: int) -> bool:
    return _one(db, job_id, Move.ASK, sets="worker = NULL")


def chosen(db: sqlite_utils.Database, job_id: int, format_key: str) -> bool:
    return _one(db, job_id, Move.CHOSEN, sets="format_key = :format_key", params={"format_key": format_key})


def from_cache(db: sqlite_utils.Database, job_id: int, media_kind: str, title: str | None) -> bool:
    return _one(
        db,
        job_id,
        Move.FROM_CACHE,
        sets="media_kind = :kind, title = coalesce(title, :title), started_at = coalesce(started_at, :now)",
        params={"kind": media_kind, "title": title},
    )


def expand(db: sqlite_utils.Database, job_id: int, title: str, meta: str) -> bool:
    return _one(
        db,
        job_id,
        Move.EXPAND,
        sets="worker = NULL, title = :title, meta = :meta",
        params={"title": title, "meta": meta},
    )


def redownload(db: sqlite_utils.Database, job_id: int, error: str) -> bool:
    """The uploader lost the file: the job is downloaded again (a new try, within JOB_ATTEMPTS)."""
    return _one(
        db, job_id, Move.REDOWNLOAD, sets="worker = NULL, file_path = NULL, error = :error", params={"error": error}
    )


def delivered(db: sqlite_utils.Database, job_id: int, *, upload_s: float | None = None) -> bool:
    sets = "meta = json_set(coalesce(meta, '{}'), '$.upload_s', :upload_s)" if upload_s is not None else ""
    return _one(db, job_id, Move.DELIVERED, sets=sets, params={"upload_s": upload_s})


def fail(db: sqlite_utils.Database, job_id: int, *, error_class: str, error: str, lease: int | None = None) -> bool:
    return _one(
        db,
        job_id,
        Move.FAIL,
        lease=lease,
        sets="worker = NULL, error_class = :error_class, error = :error",
        params={"error_class": error_class, "error": error},
    )


def cancel(db: sqlite_utils.Database, job_ids: list[int]) -> int:
    """Cancel every job of `job_ids` that is still active; returns how many were."""
    return _apply(db, job_ids, Move.CANCEL, sets="worker = NULL") if job_ids else 0


_COLUMNS = frozenset(
    {"media_key", "format_key", "media_kind", "title", "file_path", "file_size", "meta", "downloaded_bytes"}
)


def _column(name: str) -> str:
    if name not in _COLUMNS:
        raise ValueError(f"not a column a move may set: {name!r}")
    return name
