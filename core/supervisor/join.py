"""A downloader host: `python run.py --join tcp://MAIN:PORT --workers auto` (issue 18).

Its supervisor is the usual one (restarts, drain on SIGTERM, sd_notify) running only downloaders,
named `downloader-N@HOST` so that names stay unique across hosts. Before it starts them it says
hello to the main host over its CURVE link and takes what the main host tells it (in sandbox
mode, the sandbox's origin). Then, over that one link, it relays its children's telemetry
(heartbeats, metrics, alerts) and its own `HostStatus` (its processes with psutil's figures, its
machine) every heartbeat, which the gateway passes on to the monitor. The downloaders open their
own job channels to the same port and stream their files home there (`downloader/ship.py`).
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping

import trio

from core import spool
from core.child import endpoints_for
from core.config import Settings, load_settings
from core.supervisor.children import ChildSpec
from core.supervisor.supervisor import Supervisor
from ipc.channels import Subscriber
from ipc.curve import KeysMissing
from ipc.hosts import HostLink, host_status, joining_options
from ipc.messages import encode

log = logging.getLogger("supervisor")

HELLO_RESEND_S = 2.0  # a hello not answered within this is said again (the main host may be starting)
LEAVING_SEND_S = 1.0  # how long the last status ("leaving") may wait for the link


def downloader_specs(host: str, workers: int) -> list[ChildSpec]:
    py = sys.executable
    return [
        ChildSpec(f"downloader-{i}@{host}", "downloader", (py, "-m", "downloader", "--name", f"downloader-{i}@{host}"))
        for i in range(1, workers + 1)
    ]


async def run_joined(settings: Settings, overrides: Mapping[str, str], announce: Callable[[str], None]) -> int:
    """Join the main host and supervise this host's downloaders until SIGTERM."""
    host = settings.this_host
    try:
        options = joining_options(settings)
    except KeysMissing as exc:
        log.error("cannot join %s: %s", settings.join, exc)
        return 2
    with HostLink(host, settings.join, options) as link:
        try:
            welcome = await link.hello(settings.workers, settings.ready_timeout, HELLO_RESEND_S)
        except trio.TooSlowError:
            log.error(
                "the main host at %s did not answer within %.0fs: is it running with JOB_LISTEN, is this "
                "host's %s in its curve/authorized/, and is curve/server.key the main host's key?",
                settings.join,
                settings.ready_timeout,
                settings.curve_dir / "host.key",
            )
            return 1
        log.info("joined %s as %s; from the main host: %s", settings.join, host, welcome.settings)
        env = {**overrides, **welcome.settings, "JOIN": settings.join, "HOST_NAME": host}
        joined = load_settings(overrides=env)
        # What the last run left in this host's spool is nobody's now (its jobs went back to the queue).
        spool.remove(joined.spool_dir)
        joined.spool_dir.mkdir(parents=True, exist_ok=True)
        specs = downloader_specs(host, joined.workers)
        # Its ready line names the main host it joined (the monitor, and /healthz, are there).
        supervisor = Supervisor(joined, specs, env, announce=lambda line: announce(_joined_line(line, settings.join)))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_relay_telemetry, joined, link)
            nursery.start_soon(_tell_status, supervisor, link)
            code = await supervisor.run()
            nursery.cancel_scope.cancel()
        with trio.move_on_after(LEAVING_SEND_S):
            await link.socket.send([_encoded_status(supervisor, leaving=True)])
        return code


def _joined_line(line: str, join: str) -> str:
    return line.split(" | health ", 1)[0] + f" | joined {join}"


async def _relay_telemetry(settings: Settings, link: HostLink) -> None:
    """The children's heartbeats, metrics and alerts, on to the main host's monitor."""
    with Subscriber(endpoints_for(settings).telemetry) as telemetry:
        while True:
            msg = await telemetry.recv()
            link.relay_nowait(msg)


async def _tell_status(supervisor: Supervisor, link: HostLink) -> None:
    while True:
        table, leaving = supervisor.process_table(), supervisor.stopping
        settings = supervisor.settings
        status = await trio.to_thread.run_sync(
            functools.partial(host_status, settings.this_host, table, str(settings.spool_dir), leaving=leaving)
        )
        link.relay_nowait(status)
        await trio.sleep(settings.heartbeat_interval)


def _encoded_status(supervisor: Supervisor, leaving: bool) -> bytes:
    settings = supervisor.settings
    return encode(host_status(settings.this_host, supervisor.process_table(), str(settings.spool_dir), leaving=leaving))
