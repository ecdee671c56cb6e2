"""A test host of our own: a network namespace on a documentation address, serving what we ask.

    reason = netns_unavailable()          # None, or why this machine cannot (skip with it)
    with netns_http_server(folder) as host:
        host.url("/sample.mp4")           # http://198.51.100.<n>/sample.mp4 (port 80)
    with netns_namespace() as ns:         # the namespace alone: run servers in it yourself
        ns.start([...], ready="PREFIX")   # a process inside it, once it printed its ready line

It needs root and iproute2 (`ip`). Each use makes a namespace with a unique name and a veth
pair on a free /30 inside 198.51.100.0/24 (TEST-NET-2, RFC 5737: never routed, so traffic to
it stays on this machine; a /30 each, so that runs side by side do not collide), starts the
servers inside the namespace (its own ports: the web server takes 80, as a public host's does),
and tears all of it down on the way out, also when the test fails. Nothing outside this machine
is ever addressed.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Namespace", "NetnsHost", "netns_http_server", "netns_namespace", "netns_unavailable"]

NETWORK = ipaddress.IPv4Network("198.51.100.0/24")
SUBNET_PREFIX = 30
IP_TIMEOUT_S = 30.0  # one `ip` command
READY_DEADLINE_S = 30.0  # the server inside prints its port within this
STOP_GRACE_S = 5.0
SERVING = "Serving HTTP on "
HTTP_PORT = 80


@dataclass(frozen=True)
class NetnsHost:
    namespace: str
    host_ip: str  # our end of the veth pair (an address of this machine)
    ns_ip: str  # the test host's address
    port: int  # the HTTP server's port inside the namespace

    def url(self, path: str = "/") -> str:
        return f"http://{self.ns_ip}:{self.port}{path}"


@dataclass
class Namespace:
    """A namespace with a veth pair: `host_ip` is this machine's end, `ns_ip` the test host's."""

    name: str
    host_ip: str
    ns_ip: str
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, argv: list[str], ready: str, cwd: Path | None = None) -> str:
        """Run `argv` inside the namespace; the first line it prints that starts with `ready`
        (the rest of that line is returned). Stopped when the namespace goes."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
        )
        self.processes.append(process)
        return _wait_line(process, ready)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=check)


def netns_unavailable() -> str | None:
    """Why a namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    probe = f"egress-probe-{secrets.token_hex(4)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def _free_subnet() -> ipaddress.IPv4Network:
    in_use = _ip("-o", "-4", "addr", "show").stdout
    subnets = list(NETWORK.subnets(new_prefix=SUBNET_PREFIX))
    for _ in range(len(subnets)):
        subnet = subnets[secrets.randbelow(len(subnets))]
        if not any(f" {host}/" in in_use for host in subnet):
            return subnet
    raise RuntimeError(f"no free /{SUBNET_PREFIX} left in {NETWORK}")


@contextmanager
def netns_namespace() -> Iterator[Namespace]:
    """A fresh namespace on a free /30 of 198.51.100.0/24; it and its processes removed after."""
    tag = secrets.token_hex(3)
    name, outer, inner = f"egress-{os.getpid()}-{tag}", f"veg{tag}a", f"veg{tag}b"
    subnet = _free_subnet()
    host_ip, ns_ip = (str(a) for a in list(subnet.hosts())[:2])
    namespace = Namespace(name, host_ip, ns_ip)
    try:
        _ip("netns", "add", name)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", name)
        _ip("addr", "add", f"{host_ip}/{SUBNET_PREFIX}", "dev", outer)
        _ip("link", "set", outer, "up")
        inside = ("netns", "exec", name, "ip")
        _ip(*inside, "addr", "add", f"{ns_ip}/{SUBNET_PREFIX}", "dev", inner)
        _ip(*inside, "link", "set", inner, "up")
        _ip(*inside, "link", "set", "lo", "up")
        yield namespace
    finally:
        for process in namespace.processes:
            _stop(process)
        _ip("link", "del", outer, check=False)  # deletes both ends
        _ip("netns", "del", name, check=False)


@contextmanager
def netns_http_server(folder: Path, port: int = HTTP_PORT) -> Iterator[NetnsHost]:
    """`python -m http.server` serving `folder` on `port` inside a fresh namespace; all removed after."""
    with netns_namespace() as namespace:
        argv = [sys.executable, "-u", "-m", "http.server", str(port), "--bind", namespace.ns_ip,
                "--directory", str(folder)]  # fmt: skip
        line = namespace.start(argv, SERVING)
        served = int(line.split(" port ", 1)[1].split(" ", 1)[0])
        yield NetnsHost(namespace.name, namespace.host_ip, namespace.ns_ip, served)


def _wait_line(server: subprocess.Popen[str], ready: str) -> str:
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:  # owns the pipe: reads it to its end, then closes it
        assert server.stdout is not None
        with server.stdout:
            for line in server.stdout:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + READY_DEADLINE_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            raise RuntimeError(f"the namespace's process exited ({server.wait()}): {seen}")
        seen.append(line.rstrip())
        if line.startswith(ready):
            return line.rstrip("\n")[len(ready) :]
    raise RuntimeError(f"the namespace's process printed no {ready!r} in {READY_DEADLINE_S}s: {seen}")


def _stop(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
