"""The main host's side of the joined hosts: what arrives on the job channel that is not about
jobs (issue 18; README "Growing past one server").

A joined host's supervisor opens one CURVE link to JOB_LISTEN (`HostLink`, on that host): it says
hello and is answered with what it must know of the main host (`HostWelcome`: in sandbox mode the
sandbox's origin), then relays its children's telemetry and its own `HostStatus` every heartbeat.
Its downloaders open their own job channels to the same port, and stream their files home there.
The gateway passes telemetry on to the monitor unchanged, and files to the spool (`FileSink`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psutil
import trio
import zmq

from core import spool
from core.config import Settings, as_environ
from ipc._channel import Channel
from ipc._jobs import JobDispatcher
from ipc.curve import Authenticator, apply_options, client_options, load_keys, server_key, server_options
from ipc.filestream import FileSink
from ipc.messages import (
    RELAYED,
    FileAck,
    HostHello,
    HostStatus,
    HostWelcome,
    MachineHealth,
    Message,
    ProcessHealth,
    ProcessTable,
    decode,
    encode,
)
from ipc.zmqtrio import Socket, context

__all__ = ["HostLink", "Listener", "RemoteHosts", "host_status", "open_listener"]

log = logging.getLogger(__name__)


class RemoteHosts:
    """Gateway side: answers hellos, relays telemetry to the monitor, hands files to the sink."""

    def __init__(
        self,
        welcome: dict[str, str],
        answer: Callable[[bytes, HostWelcome | FileAck], bool],
        relay: Callable[[Message], bool],
        sink: FileSink,
    ) -> None:
        self.welcome = welcome
        self.answer = answer
        self.relay = relay
        self.sink = sink
        self.hosts: dict[str, float] = {}  # host -> when its last hello came (wall clock)

    async def received(self, identity: bytes, msg: Message) -> None:
        if await self.sink.received(identity, msg):
            return
        if isinstance(msg, HostHello):
            if msg.host not in self.hosts:
                log.info("host %s (pid %d, %d downloaders) says hello", msg.host, msg.pid, msg.workers)
            self.hosts[msg.host] = time.time()
            self.answer(identity, HostWelcome(host=msg.host, settings=self.welcome))
        elif isinstance(msg, RELAYED):
            self.relay(msg)  # a monitor that is behind loses a figure: the next heartbeat brings it


# ---- the joined host's side ------------------------------------------------------------------


class HostLink(Channel):
    """A joined host's supervisor: its one link to the main host (a CURVE DEALER)."""

    def __init__(self, host: str, endpoint: str, options: dict[str, int | bytes]) -> None:
        self.host = host
        super().__init__(Socket(_new_dealer(f"host:{host}:{os.getpid()}".encode(), options, endpoint)), endpoint)

    async def hello(self, workers: int, wait_s: float, resend_s: float) -> HostWelcome:
        """Say hello until the main host answers; raises trio.TooSlowError after `wait_s`."""
        with trio.fail_after(wait_s):
            while True:
                await self.socket.send([encode(HostHello(host=self.host, pid=os.getpid(), workers=workers))])
                with trio.move_on_after(resend_s):
                    while True:
                        msg = decode((await self.socket.recv())[-1])
                        if isinstance(msg, HostWelcome):
                            return msg

    def relay_nowait(self, msg: Message) -> bool:
        """Pass telemetry on; dropped (False) while the link is full or down for long."""
        return self.socket.send_nowait([encode(msg)])


def _new_dealer(identity: bytes, options: dict[str, int | bytes], endpoint: str) -> zmq.Socket[Any]:
    raw = context().socket(zmq.DEALER)
    try:
        raw.setsockopt(zmq.IDENTITY, identity)
        raw.setsockopt(zmq.SNDHWM, RELAY_HWM)
        wrapped = Socket(raw)
        apply_options(wrapped, options)
        raw.connect(endpoint)
    except BaseException:
        raw.close(linger=0)
        raise
    return raw


RELAY_HWM = 1000  # telemetry waiting for a link that is down: past this it is dropped, not queued


_seen: dict[int, psutil.Process] = {}  # pid -> its Process, so that cpu_percent has a previous reading


def host_status(host: str, table: ProcessTable, spool: str, *, leaving: bool = False) -> HostStatus:
    """This host's processes (psutil's figures read here, where their pids mean something) and machine."""
    processes = []
    pids = {row.pid for row in table.processes}
    for gone in set(_seen) - pids:
        del _seen[gone]
    for row in table.processes:
        rss, cpu, threads, files = 0, 0.0, 0, 0
        try:
            proc = _seen.get(row.pid) or _seen.setdefault(row.pid, psutil.Process(row.pid))
            with proc.oneshot():
                rss, cpu, threads = proc.memory_info().rss, proc.cpu_percent(), proc.num_threads()
                files = proc.num_fds()
        except (psutil.Error, OSError):
            pass
        processes.append(
            ProcessHealth(
                name=row.name if "@" in row.name else f"{row.name}@{host}",  # its supervisor's too
                pid=row.pid,
                state=row.state,
                rss_bytes=rss,
                cpu_percent=cpu,
                heartbeat_age_s=None,
                restarts=row.restarts,
                threads=threads,
                open_files=files,
                last_exit=row.last_exit,
            )
        )
    disk = psutil.disk_usage(spool)
    machine = MachineHealth(
        disk_free_bytes=disk.free,
        disk_free_pct=100.0 - disk.percent,
        memory_pct=psutil.virtual_memory().percent,
        cpu_pct=psutil.cpu_percent(),
        load=os.getloadavg(),
        checked_at=time.time(),
    )
    return HostStatus(host=host, processes=processes, machine=machine, sent_at=time.time(), leaving=leaving)


@asynccontextmanager
async def open_host_link(host: str, endpoint: str, options: dict[str, int | bytes]) -> AsyncIterator[HostLink]:
    with HostLink(host, endpoint, options) as link:
        yield link


# ---- the gateway's wiring ----------------------------------------------------------------------

WELCOME_SETTINGS = (
    "SANDBOX",
    "SANDBOX_HOST",
    "SANDBOX_PORT",
    "TELEGRAM_BACKEND",
    "BOTAPI_UPLOAD_LIMIT_MB",
    "UPLOAD_LIMIT_MB",
    "MAX_FILE_MB",
)
"""What a joined host takes from the main host: the sandbox's origin, and the size limits that
must be the main host's (a download the uploader could not send is refused where it is made)."""


LISTENING_FILE = "job_listen_port"
"""In DATA_DIR/run: the port the gateway bound for JOB_LISTEN. With port 0 ("any free port") a
restarted gateway, or the whole main host, binds that one again: the joined hosts were started
with that port and keep reconnecting to it (another port would leave them out for good)."""


class Listener:
    """JOB_LISTEN on the main host: the authenticator, the CURVE options of the listener, and (once
    the job channel is open) the joined hosts' messages."""

    def __init__(self, settings: Settings, relay: Callable[[Message], bool]) -> None:
        self.settings = settings
        self.relay = relay
        self.keys = load_keys(settings.curve_dir)  # no keys, no tcp:// listener (KeysMissing)
        self.auth = Authenticator(settings.curve_dir)
        self.options = server_options(self.keys, *link_timing_ms(settings))
        self.hosts: RemoteHosts | None = None
        self.record = settings.run_dir / LISTENING_FILE

    @property
    def listen_first(self) -> str:
        """JOB_LISTEN with the port an earlier gateway bound, when it asks for any port."""
        wanted = self.settings.job_listen
        try:
            port = int(self.record.read_text())
        except (OSError, ValueError):
            return ""
        return f"{wanted[:-1]}{port}" if wanted.endswith(":0") and 0 < port < 65536 else ""

    def remember(self, listening: str) -> None:
        partial = self.record.with_suffix(".partial")  # a crash while writing leaves the old record
        partial.write_text(listening.rsplit(":", 1)[1])
        os.replace(partial, self.record)

    def close(self) -> None:
        self.auth.close()

    async def serve(
        self,
        jobs: JobDispatcher,
        current_lease: Callable[[int], int | None],
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """`current_lease(job_id)`: the job's lease as the gateway has it (a file of an older one is refused)."""
        settings = self.settings
        sink = FileSink(
            settings.spool_dir,
            jobs.send_nowait,
            window_bytes=settings.file_chunk_kb * 1024 * settings.file_window_chunks,
            max_bytes=settings.max_file_bytes * 2,  # a split file's parts together, and its thumbnail
            room=lambda size: spool.has_room(settings, size),
            admit=lambda job_id, lease: current_lease(job_id) == lease,
        )
        welcome = {env: as_environ(env, getattr(settings, env.lower())) for env in WELCOME_SETTINGS}
        self.hosts = RemoteHosts(welcome, jobs.send_nowait, self.relay, sink)
        jobs.on_other = self.hosts.received
        self.remember(jobs.listening)
        log.info("downloader hosts join at %s", jobs.listening)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.auth.serve)
            nursery.start_soon(sink.run)
            task_status.started()


def joining_options(settings: Settings) -> dict[str, int | bytes]:
    """The CURVE client options of a joined host's sockets (its keys, the main host's key)."""
    return client_options(load_keys(settings.curve_dir), server_key(settings.curve_dir), *link_timing_ms(settings))


def link_timing_ms(settings: Settings) -> tuple[int, int]:
    """(ZMTP heartbeat interval, timeout) of a link between hosts: a cut link is noticed after three
    missed heartbeats, well before HEARTBEAT_TIMEOUT takes the host's jobs away, so that a link
    that only flapped reconnects and goes on (a file resumes) without losing its jobs."""
    beat = settings.heartbeat_interval
    return int(beat * 1000), int(min(settings.heartbeat_timeout, LINK_MISSED_BEATS * beat) * 1000)


LINK_MISSED_BEATS = 3


@asynccontextmanager
async def open_listener(settings: Settings, relay: Callable[[Message], bool]) -> AsyncIterator[Listener | None]:
    """A Listener when JOB_LISTEN is set (bound before the listener opens: without a ZAP handler
    libzmq would let every key in), else None."""
    if not settings.job_listen:
        yield None
        return
    listener = Listener(settings, relay)
    try:
        yield listener
    finally:
        listener.close()
