"""A main host and downloader hosts on one machine: each downloader host is a network namespace
with its own address on a veth bridge, its own DATA_DIR and its own keys.

    reason = netns_unavailable()                 # None, or why not here (skip with it)
    with Cluster(folder, hosts=2) as cluster:
        cluster.bot                              # the main host: `run.py --sandbox`, JOB_LISTEN on the bridge
        cluster.hosts["h1"].cut() / .mend()      # its link down and up (`ip link set`)
        cluster.hosts["h1"].stop() / .start()    # SIGTERM (a rolling restart) and back
        cluster.restart_main()                   # the whole main host stops and starts again

Addresses come from a free /28 of 198.51.100.0/24 (TEST-NET-2, RFC 5737: never routed), so
nothing leaves this machine; the bridge, the namespaces and every process go on the way out,
also when the test fails.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from ipc.curve import AUTHORIZED, HOST_KEY, SERVER_KEY, make_keys
from tests.support.bot import BotProcess
from tests.support.netns import netns_unavailable
from tests.support.paths import RUN_PY

__all__ = ["Cluster", "JoinedHost", "netns_unavailable"]

NETWORK = ipaddress.IPv4Network("198.51.100.0/24")
PREFIX = 28
IP_TIMEOUT_S = 30.0
READY_DEADLINE_S = 120.0
STOP_GRACE_S = 20.0
LISTENING = re.compile(r"downloader hosts join at tcp://([\d.]+):(\d+)")
# Short heartbeats so that a silent host loses its jobs within seconds (the same rules, faster).
FAST = {"HEARTBEAT_INTERVAL": "0.5", "HEARTBEAT_TIMEOUT": "4", "HUNG_KILL_AFTER": "20", "LOG_LEVEL": "info",
        "DOWNLOAD_SLOTS_PER_WORKER": "2"}  # fmt: skip


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=check)


def _free_subnet() -> ipaddress.IPv4Network:
    in_use = ip("-o", "-4", "addr", "show").stdout
    subnets = list(NETWORK.subnets(new_prefix=PREFIX))
    for _ in range(len(subnets)):
        subnet = subnets[secrets.randbelow(len(subnets))]
        if not any(f" {host}/" in in_use for host in subnet):
            return subnet
    raise RuntimeError(f"no free /{PREFIX} left in {NETWORK}")


class Bridge:
    """A veth bridge on a free /28 (this machine takes the first address) and namespaces on it."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.name = f"brs{self.tag}"
        self.subnet = _free_subnet()
        self.main_ip = str(next(self.subnet.hosts()))
        self.namespaces: list[str] = []
        self.veths: list[str] = []
        ip("link", "add", self.name, "type", "bridge")
        try:
            ip("addr", "add", f"{self.main_ip}/{PREFIX}", "dev", self.name)
            ip("link", "set", self.name, "up")
        except BaseException:
            self.close()
            raise

    def namespace(self, name: str) -> tuple[str, str, str]:
        """A namespace on the bridge with the next address: (its name, our end of its link, its address)."""
        i = len(self.namespaces) + 1
        address = str(list(self.subnet.hosts())[i])
        namespace, outer, inner = f"scale-{self.tag}-{name}", f"vs{self.tag}{i}a", f"vs{self.tag}{i}b"
        ip("netns", "add", namespace)
        self.namespaces.append(namespace)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        self.veths.append(outer)
        ip("link", "set", inner, "netns", namespace)
        ip("link", "set", outer, "master", self.name)
        ip("link", "set", outer, "up")
        inside = ("netns", "exec", namespace, "ip")
        ip(*inside, "addr", "add", f"{address}/{PREFIX}", "dev", inner)
        ip(*inside, "link", "set", inner, "up")
        ip(*inside, "link", "set", "lo", "up")
        return namespace, outer, address

    def close(self) -> None:
        for veth in self.veths:
            ip("link", "del", veth, check=False)
        for namespace in self.namespaces:
            ip("netns", "del", namespace, check=False)
        ip("link", "del", self.name, check=False)


class JoinedHost:
    """`run.py --join` inside its namespace."""

    def __init__(self, name: str, namespace: str, veth: str, address: str, folder: Path, join: str) -> None:
        self.name, self.namespace, self.veth, self.address = name, namespace, veth, address
        self.folder = folder
        self.data_dir = folder / "data"
        self.join = join
        self.log_path = folder / "host.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def start(self, workers: int = 1, **env: str) -> None:
        self.env = {**os.environ, **FAST, "HOST_NAME": self.name, "PYTHONUNBUFFERED": "1", **env}
        argv = ["ip", "netns", "exec", self.namespace, sys.executable, str(RUN_PY), "--join", self.join,
                "--workers", str(workers), "--data-dir", str(self.data_dir)]  # fmt: skip
        mark = len(self.log_lines())
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                argv, cwd=self.folder, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + READY_DEADLINE_S
        while time.monotonic() < deadline:
            if any(line.startswith("ready: ") for line in self.log_lines()[mark:]):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"host {self.name} exited ({self.proc.returncode}):\n{self.log()}")
            time.sleep(0.2)
        raise AssertionError(f"host {self.name} was not ready within {READY_DEADLINE_S:g} s:\n{self.log()}")

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines() if self.log_path.exists() else []

    def log(self, tail: int = 80) -> str:
        return "\n".join(self.log_lines()[-tail:])

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Signal the host's supervisor (SIGTERM: it drains) and wait for it; the rest is killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of its group
        except ProcessLookupError:
            pass
        self.proc.wait(STOP_GRACE_S)
        return self.proc.returncode

    def cut(self) -> None:
        ip("link", "set", self.veth, "down")

    def mend(self) -> None:
        ip("link", "set", self.veth, "up")


class Cluster:
    def __init__(
        self, folder: Path, hosts: int, *, workers: int = 1, host_workers: int = 1, env: dict[str, str] | None = None
    ) -> None:
        """`workers`: the main host's own downloaders (0: none); `host_workers`: each joined host's."""
        self.folder = folder
        self.bot: BotProcess | None = None
        self.hosts: dict[str, JoinedHost] = {}
        self.bridge = Bridge()
        self.main_ip = self.bridge.main_ip
        try:
            self._keys(hosts)
            self.main_env = {**FAST, "JOB_LISTEN": f"tcp://{self.main_ip}:0", "SANDBOX_HOST": self.main_ip,
                             "ADMIN_IDS": "4242,4243", **(env or {})}  # fmt: skip
            self.workers = workers
            self.bot = BotProcess(folder / "main", env=self.main_env, workers=workers)
            join = self._listening()
            for i in range(1, hosts + 1):
                name = f"h{i}"
                namespace, veth, address = self.bridge.namespace(name)
                self.hosts[name] = JoinedHost(name, namespace, veth, address, folder / name, join)
            for host in self.hosts.values():
                host.start(host_workers)
        except BaseException:
            self.close()
            raise

    def _keys(self, hosts: int) -> None:
        main_curve = self.folder / "main" / "data" / "curve"
        make_keys(main_curve)
        for i in range(1, hosts + 1):
            curve = self.folder / f"h{i}" / "data" / "curve"
            make_keys(curve)
            shutil.copy(curve / HOST_KEY, main_curve / AUTHORIZED / f"h{i}.key")
            shutil.copy(main_curve / HOST_KEY, curve / SERVER_KEY)

    def _listening(self) -> str:
        assert self.bot is not None
        deadline = time.monotonic() + READY_DEADLINE_S
        while time.monotonic() < deadline:
            for line in self.bot.log_lines():
                if found := LISTENING.search(line):
                    return f"tcp://{found.group(1)}:{found.group(2)}"
            time.sleep(0.2)
        raise AssertionError(f"the gateway never said where hosts join:\n{self.bot.log()}")

    def restart_main(self) -> BotProcess:
        """Stop the whole main host (SIGTERM) and start it again on its folder, its sandbox on the
        same port (the joined hosts were told its origin when they joined)."""
        assert self.bot is not None
        sandbox_port = urlsplit(self.bot.url).port
        self.bot.stop()
        self.bot = None
        self.bot = BotProcess(
            self.folder / "main", "--sandbox-port", str(sandbox_port), env=self.main_env, workers=self.workers
        )
        return self.bot

    def add_host(self, name: str, *, authorize: bool) -> JoinedHost:
        """One more namespace with keys of its own, authorized or not (not started)."""
        namespace, outer, address = self.bridge.namespace(name)
        curve = self.folder / name / "data" / "curve"
        make_keys(curve)
        main_curve = self.folder / "main" / "data" / "curve"
        shutil.copy(main_curve / HOST_KEY, curve / SERVER_KEY)
        if authorize:
            shutil.copy(curve / HOST_KEY, main_curve / AUTHORIZED / f"{name}.key")
        host = JoinedHost(name, namespace, outer, address, self.folder / name, self._listening())
        self.hosts[name] = host
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            try:
                host.stop()
            except Exception:  # teardown goes on: the namespaces must go whatever happened
                pass
        if self.bot is not None:
            self.bot.stop()
        self.bridge.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
