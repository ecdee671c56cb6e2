"""Where each channel lives, and who binds it.

| channel     | binds (socket)      | connects (socket)                   | carries                             |
|-------------|---------------------|-------------------------------------|-------------------------------------|
| control     | supervisor (ROUTER) | every child (DEALER, identity=name) | Ready, Heartbeat, Drain             |
| jobs        | gateway (ROUTER)    | downloaders (DEALER)                | up: Credit, WorkerEvent; down:      |
|             |                     |                                     | JobAssign, ReportAck, JobCancel     |
| events      | gateway (PULL)      | uploader (PUSH)                     | UploadEvent                         |
| outbox      | uploader (PULL)     | anyone (PUSH)                       | OutboxNotice                        |
| telemetry   | monitor (SUB)       | every process (PUB)                 | Heartbeat, Metrics, AlertRaised     |
| monitor_rpc | monitor (ROUTER)    | gateway (DEALER)                    | RpcRequest, RpcReply                |

With IPC_TRANSPORT=ipc the endpoints are unix sockets in the run folder (created by the
supervisor); with tcp they are consecutive ports from IPC_BASE_PORT on IPC_HOST, so downloaders
can run on other hosts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.config import Settings, SettingsError

__all__ = ["UNIX_PATH_MAX", "Endpoints"]

UNIX_PATH_MAX = 107
"""Longest unix socket path Linux accepts (sun_path is 108 bytes with the final NUL)."""


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
    def from_settings(cls, settings: Settings) -> Endpoints:
        """Addresses from IPC_TRANSPORT, the run folder, IPC_HOST and IPC_BASE_PORT; touches no disk."""
        names = [f.name for f in dataclasses.fields(cls)]
        if settings.ipc_transport == "tcp":
            return cls(*(f"tcp://{settings.ipc_host}:{settings.ipc_base_port + i}" for i in range(len(names))))
        run_dir = settings.run_dir.absolute()  # children may change folder; absolute() reads no disk
        paths = [f"{run_dir}/{name}.sock" for name in names]
        longest = max(paths, key=len)
        if len(longest.encode()) > UNIX_PATH_MAX:
            raise SettingsError(
                "DATA_DIR",
                f"is too deep for unix sockets ({longest!r} is longer than {UNIX_PATH_MAX} bytes); "
                "use a shorter DATA_DIR or IPC_TRANSPORT=tcp",
            )
        return cls(*(f"ipc://{path}" for path in paths))
