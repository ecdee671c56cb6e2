"""The supervisor: start every child, restart the ones that die, drain them all on SIGTERM.

Readiness comes from the children (a `Ready` message on the control channel, or the sandbox's
stdout line). Restarts follow `RestartPolicy`; a kind that crash-loops rests for
CRASH_LOOP_COOLDOWN (its state is "cooling", so /healthz says degraded), admins are alerted, the
rest keep running, and then it is tried again, for as long as the bot runs. Heartbeats feed the
systemd watchdog and reveal hung children, which are killed and restarted like crashed ones.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from urllib.parse import urlsplit

import trio

from core.child import SUPERVISOR_PID_ENV, endpoints_for
from core.config import Settings
from core.supervisor.children import (
    PROJECT_ROOT,
    SANDBOX_READY_PREFIX,
    STATE_BACKOFF,
    STATE_COOLING,
    STATE_READY,
    STATE_STOPPED,
    Child,
    ChildSpec,
    describe_exit,
    on_port,
)
from core.supervisor.policy import RestartPolicy, RestartTracker
from core.supervisor.sdnotify import SystemdNotifier
from core.supervisor.ytdlp import YtdlpUpdates
from ipc.channels import ControlServer
from ipc.messages import Drain, Heartbeat, LimitsChanged, ProcessInfo, ProcessTable, Ready, UpdateYtdlp

log = logging.getLogger("supervisor")

# Called when a kind starts a crash-loop cooldown: (kind, reason). The alert itself goes to admins.
AlertFn = Callable[[str, str], None]
CONTROL_SEND_S = 0.2  # a control message that cannot go out this fast is not waited for


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        specs: list[ChildSpec],
        child_env: Mapping[str, str],
        *,
        sandbox: ChildSpec | None = None,
        announce: Callable[[str], None] = print,
        alert: AlertFn | None = None,
        notifier: SystemdNotifier | None = None,
    ) -> None:
        self.settings = settings
        self.endpoints = endpoints_for(settings)
        self.policy = RestartPolicy.from_settings(settings)
        # Children run in the operator's folder (where `.env` is) but import the bot from here.
        python_path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        self.child_env = {**child_env, SUPERVISOR_PID_ENV: str(os.getpid()), "PYTHONPATH": python_path}
        self.announce = announce
        self.alert = alert
        self.notifier = notifier or SystemdNotifier()
        self.stopping = False
        kinds: dict[str, deque[float]] = {}
        self.sandbox = self._child(sandbox, kinds) if sandbox else None
        self.children = [self._child(spec, kinds) for spec in specs]
        self.restarts_total = 0
        self.sandbox_url = ""
        self.monitor_port = settings.monitor_port  # the bound one once the monitor is ready (0: any)
        self.started_wall = time.time()
        self.table_changed = trio.Event()  # set when a child starts, gets ready or exits
        self.stop_requested = trio.Event()  # a signal, or nothing left worth running
        self.exit_code = 0
        self.limits: LimitsChanged | None = None  # the gateway's latest, for every child that starts
        self.updates = YtdlpUpdates(self)

    def _child(self, spec: ChildSpec, kinds: dict[str, deque[float]]) -> Child:
        recent = kinds.setdefault(spec.kind, deque())
        return Child(spec, RestartTracker(self.policy, recent=recent))

    def all_children(self) -> list[Child]:
        return ([self.sandbox] if self.sandbox else []) + self.children

    # ---- the whole run -------------------------------------------------------------------

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (exit 0) or until the bot cannot work at all (exit 1)."""
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        with (
            ControlServer(self.endpoints.control) as control,
            trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals,
        ):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._control_loop, control)
                nursery.start_soon(self._process_table_loop, control)
                nursery.start_soon(self._watchdog_loop)
                nursery.start_soon(self._start_all, nursery)
                nursery.start_soon(self._signals, signals)
                self.updates.nursery = nursery
                await self.stop_requested.wait()
                await self._shutdown(control)
                nursery.cancel_scope.cancel()
        self.notifier.close()
        log.info("all children stopped")
        return self.exit_code

    async def _signals(self, signals: AsyncIterator[int]) -> None:
        async for signum in signals:
            log.info("got %s: draining children", signal.Signals(signum).name)
            self.stop_requested.set()

    def _fatal(self, why: str) -> None:
        log.error("%s: stopping the bot", why)
        self.exit_code = 1
        self.stop_requested.set()

    async def _start_all(self, nursery: trio.Nursery) -> None:
        if self.sandbox is not None:
            nursery.start_soon(self._keep_running, self.sandbox)
            with trio.move_on_after(self.settings.ready_timeout):
                await self.sandbox.ready.wait()
            if not self.sandbox.ready.is_set():
                self._fatal(f"the sandbox did not start within {self.settings.ready_timeout:.0f}s (see its log)")
                return
        for child in self.children:
            nursery.start_soon(self._keep_running, child)
        with trio.move_on_after(self.settings.ready_timeout) as scope:
            for child in self.children:
                await child.ready.wait()
        if scope.cancelled_caught:
            late = ", ".join(c.name for c in self.children if not c.ready.is_set())
            log.error("not ready after %.0fs: %s", self.settings.ready_timeout, late)
            return
        names = " ".join(c.name for c in self.all_children())
        health = f"http://127.0.0.1:{self.monitor_port}/healthz"
        line = f"ready: {names} | health {health}"
        if self.sandbox_url:
            line += f" | chat {self.sandbox_url}/"
        self.announce(line)
        self.notifier.ready(f"running {len(self.all_children())} processes")

    # ---- one child ---------------------------------------------------------------------------

    async def _keep_running(self, child: Child) -> None:
        while not self.stopping:
            await self._spawn(child)
            assert child.process is not None
            await child.process.wait()
            child.last_exit = describe_exit(child.process.returncode)
            self.table_changed.set()
            if self.stopping:
                child.state = STATE_STOPPED
                return
            if child.respawned is not None:  # a planned restart (restart_one_by_one): at once, not counted
                log.info("%s (pid %d) stopped for a planned restart", child.name, child.process.pid)
                continue
            restart = child.tracker.on_exit(trio.current_time(), child.started_at)
            self.restarts_total += 1
            if restart.cooling:
                self._cool_down(child)
            else:
                child.state = STATE_BACKOFF
                log.warning(
                    "%s (pid %d) %s; restart %d in %.2fs",
                    child.name,
                    child.process.pid,
                    child.last_exit,
                    child.tracker.restarts,
                    restart.delay,
                )
                self.notifier.status(f"restarting {child.name} after {child.last_exit}")
            self.table_changed.set()
            await trio.sleep(restart.delay)

    async def _spawn(self, child: Child) -> None:
        process = await trio.lowlevel.open_process(
            list(child.spec.argv),
            env={**os.environ, **self.child_env},
            stdout=subprocess.PIPE if child.spec.ready_on_stdout else None,
            start_new_session=True,  # a terminal's Ctrl-C goes to us only; we drain the children
        )
        child.mark_started(process)
        log.info("started %s (pid %d)", child.name, process.pid)
        if child.spec.ready_on_stdout:
            trio.lowlevel.spawn_system_task(self._read_stdout, child, process)

    async def _read_stdout(self, child: Child, process: trio.Process) -> None:
        """Wait for the ready line, then pass the child's output on (a full pipe would block it)."""
        assert process.stdout is not None
        buffer = b""
        async for chunk in process.stdout:
            if not child.ready.is_set():
                buffer += chunk
                for line in buffer.decode(errors="replace").splitlines():
                    if line.startswith(SANDBOX_READY_PREFIX):
                        self._sandbox_bound(child, line[len(SANDBOX_READY_PREFIX) :].strip().rstrip("/"))
                        self._mark_ready(child)
                continue
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()

    def _sandbox_bound(self, child: Child, url: str) -> None:
        """Where the sandbox listens (SANDBOX_PORT=0 lets the kernel pick the port): the bot's
        children talk to it there, and a restarted sandbox binds the same port again."""
        self.sandbox_url = url
        port = urlsplit(url).port
        if port:
            self.child_env |= {"SANDBOX_PORT": str(port), "BOTAPI_URL": url}
            child.spec = on_port(child.spec, port)

    def _monitor_bound(self, port: int) -> None:
        """The monitor's /healthz port (MONITOR_PORT=0 lets the kernel pick): announced, and
        kept by a restarted monitor."""
        self.monitor_port = port
        self.child_env["MONITOR_PORT"] = str(port)

    def _mark_ready(self, child: Child) -> None:
        self.table_changed.set()
        child.state = STATE_READY
        child.last_heartbeat = trio.current_time()
        child.ready.set()
        log.info("%s is ready (pid %d)", child.name, child.pid)

    def _cool_down(self, child: Child) -> None:
        policy = self.policy
        reason = (
            f"{child.spec.kind} restarted more than {policy.max_restarts} times "
            f"in {policy.window:g}s (last: {child.last_exit}); trying again in {policy.cooldown:g}s"
        )
        child.state = STATE_COOLING
        log.error("%s: %s", child.name, reason)
        self.notifier.status(f"{child.name} is crash-looping: cooling down")
        if child is self.sandbox:  # in sandbox mode nothing works without it
            self._fatal("the sandbox keeps failing")
        if self.alert is not None:
            try:
                self.alert(child.spec.kind, reason)
            except Exception:
                log.exception("could not alert admins about %s", child.name)

    async def restart_one_by_one(self, kind: str, control: ControlServer) -> list[str]:
        """Restart the running children of `kind` one at a time: each drains (hands its work back to
        the queue), exits, starts again and reports ready before the next goes, so the others keep
        working meanwhile. Stops at one that does not come back; returns the names restarted."""
        done: list[str] = []
        for child in [c for c in self.children if c.spec.kind == kind and c.alive]:
            if self.stopping or child.process is None:
                break
            old, child.respawned = child.process, trio.Event()
            log.info("restarting %s (pid %d): draining it first", child.name, old.pid)
            old.send_signal(signal.SIGTERM)
            with trio.move_on_after(CONTROL_SEND_S):
                await control.send(child.name, Drain())
            await self._wait_or_kill([child], self.settings.shutdown_grace)
            with trio.move_on_after(self.settings.ready_timeout):
                await child.respawned.wait()
                await child.ready.wait()
            if old is child.process or not child.ready.is_set():
                log.error(
                    "%s did not come back within %.0fs: no more restarts", child.name, self.settings.ready_timeout
                )
                break
            done.append(child.name)
        return done

    # ---- messages from children -------------------------------------------------------------

    def _by_name(self, name: str) -> Child | None:
        return next((c for c in self.all_children() if c.name == name), None)

    async def _control_loop(self, control: ControlServer) -> None:
        while True:
            name, msg = await control.recv()
            if isinstance(msg, UpdateYtdlp):  # from the gateway or `run.py update-ytdlp`
                self.updates.request(name, msg, control)
                continue
            child = self._by_name(name)
            if child is None or not child.alive:
                continue
            if isinstance(msg, Ready) and msg.pid == child.pid:
                if msg.port and child.spec.kind == "monitor":
                    self._monitor_bound(msg.port)
                self._mark_ready(child)
                if self.limits is not None:
                    await self._tell(control, child, self.limits)
            elif isinstance(msg, Heartbeat) and msg.pid == child.pid:
                child.last_heartbeat = trio.current_time()
            elif isinstance(msg, LimitsChanged):
                self.limits = msg
                log.info("runtime limits from %s: %s", name, msg.values or "none")
                for other in self.children:
                    if other is not child and other.ready.is_set() and other.alive:
                        await self._tell(control, other, msg)

    async def _tell(self, control: ControlServer, child: Child, msg: LimitsChanged) -> None:
        """Pass the runtime limits on; a child too slow to take them gets them when it is ready again."""
        with trio.move_on_after(self.settings.heartbeat_interval):
            if not await control.send(child.name, msg):
                log.warning("%s is not connected; it gets the runtime limits when it is ready", child.name)

    def process_table(self) -> ProcessTable:
        infos = [
            ProcessInfo(
                name=c.name,
                pid=c.pid,
                restarts=c.tracker.restarts,
                state=c.state,
                started_at=c.started_wall,
                last_exit=c.last_exit,
            )
            for c in self.all_children()
        ]
        infos.append(
            ProcessInfo(
                name="supervisor",
                pid=os.getpid(),
                restarts=self.restarts_total,
                state="stopping" if self.stopping else "ready",
                started_at=self.started_wall,
            )
        )
        return ProcessTable(processes=infos, sent_at=time.time())

    async def _process_table_loop(self, control: ControlServer) -> None:
        """Keep the monitor's view of the processes current (it serves /healthz from it):
        at once when something changed, and every heartbeat interval anyway."""
        while True:
            self.table_changed = trio.Event()
            monitor = self._by_name("monitor")
            if monitor is not None and monitor.ready.is_set():
                with trio.move_on_after(self.settings.heartbeat_interval):
                    await control.send("monitor", self.process_table())
            self._kill_hung_children()
            with trio.move_on_after(self.settings.heartbeat_interval):
                await self.table_changed.wait()

    def _fresh(self, child: Child) -> bool:
        return trio.current_time() - child.last_heartbeat < self.settings.heartbeat_timeout

    def _kill_hung_children(self) -> None:
        for child in self.children:  # the sandbox sends no heartbeats
            silent = trio.current_time() - child.last_heartbeat
            # A child still starting (imports, database, sockets: slow on a loaded machine) has
            # READY_TIMEOUT to say so; only a child that was ready can hang.
            limit = self.settings.hung_kill_after if child.ready.is_set() else self.settings.ready_timeout
            if child.alive and silent > limit and not self.stopping:
                log.error("%s (pid %d) sent no heartbeat for %.1fs: killing it", child.name, child.pid, silent)
                assert child.process is not None
                child.process.send_signal(signal.SIGKILL)

    async def _watchdog_loop(self) -> None:
        interval = self.notifier.watchdog_interval
        if interval is None:
            return
        while True:
            running = [c for c in self.children if c.alive]
            if running and all(self._fresh(c) and c.ready.is_set() for c in running):
                self.notifier.watchdog()
            await trio.sleep(interval)

    # ---- stopping ----------------------------------------------------------------------------

    async def _shutdown(self, control: ControlServer) -> None:
        self.stopping = True
        self.notifier.stopping()
        grace = self.settings.shutdown_grace
        # The sandbox goes last: draining children may still be talking to it.
        for child in self.children:
            if child.alive:
                assert child.process is not None
                child.process.send_signal(signal.SIGTERM)
                with trio.move_on_after(0.2):
                    await control.send(child.name, Drain())
        await self._wait_or_kill(self.children, grace)
        if self.sandbox is not None:
            if self.sandbox.alive:
                assert self.sandbox.process is not None
                self.sandbox.process.send_signal(signal.SIGTERM)
            await self._wait_or_kill([self.sandbox], grace)

    async def _wait_or_kill(self, children: list[Child], grace: float) -> None:
        with trio.move_on_after(grace):
            for child in children:
                if child.process is not None:
                    await child.process.wait()
        for child in children:
            if child.alive:
                assert child.process is not None
                log.warning("%s (pid %d) did not stop within %.0fs: SIGKILL", child.name, child.pid, grace)
                child.process.kill()
                await child.process.wait()
