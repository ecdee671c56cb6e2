"""Where each channel lives, and who binds it.

| channel     | binds (socket)      | connects (socket)                   | carries                             |
|-------------|---------------------|-------------------------------------|-------------------------------------|
| control     | supervisor (ROUTER) | every child (DEALER, identity=name) | Ready, Heartbeat, Drain (*)         |
| jobs        | gateway (ROUTER)    | downloaders (DEALER)                | up: Credit, WorkerEvent; down:      |
|             |                     |                                     | JobAssign, ReportAck, JobCancel     |
| events      | gateway (PULL)      | uploader (PUSH)                     | UploadEvent                         |
| outbox      | uploader (PULL)     | anyone (PUSH)                       | OutboxNotice                        |
| telemetry   | monitor (SUB)       | every process (PUB)                 | Heartbeat, Metrics, AlertRaised     |
| monitor_rpc | monitor (ROUTER)    | gateway (DEALER)                    | RpcRequest, RpcReply                |

(*) and UpdateYtdlp / UpdateStatus, from and to whoever asks for a yt-dlp update (the gateway, or
`run.py update-ytdlp` from a shell, each under a name of its own).

With IPC_TRANSPORT=ipc the endpoints are unix sockets in the run folder (created by the
supervisor); with tcp they are consecutive ports from IPC_BASE_PORT on IPC_HOST. Downloader hosts
on other machines join the jobs channel at JOB_LISTEN instead (tcp://, CURVE: `ipc/curve.py`,
`ipc/hosts.py`), where files, hellos and telemetry of joined hosts travel too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

__all__ = ["UNIX_PATH_MAX", "Endpoints", "PathTooLong"]

UNIX_PATH_MAX = 107
"""Longest unix socket path Linux accepts (sun_path is 108 bytes with the final NUL)."""


class PathTooLong(ValueError):
    """A socket path in the run folder would be longer than unix sockets allow."""


@dataclass(frozen=True)
class Endpoints:
    """The ZeroMQ address of every channel (see the table above)."""

    control: str
    jobs: str
    events: str
    outbox: str
    telemetry: str
    monitor_rpc: str

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def unix(cls, run_dir: Path) -> Endpoints:
        """Unix sockets `<run_dir>/<channel>.sock`; `run_dir` should be absolute (children may change
        folder). Touches no disk."""
        paths = [f"{run_dir}/{name}.sock" for name in cls.names()]
        longest = max(paths, key=len)
        if len(longest.encode()) > UNIX_PATH_MAX:
            raise PathTooLong(f"{longest!r} is longer than {UNIX_PATH_MAX} bytes")
        return cls(*(f"ipc://{path}" for path in paths))

    @classmethod
    def tcp(cls, host: str, base_port: int) -> Endpoints:
        """Consecutive ports from `base_port` on `host`, one per channel in the table's order."""
        return cls(*(f"tcp://{host}:{base_port + i}" for i in range(len(cls.names()))))
