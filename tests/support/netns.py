"""A test host of our own: a network namespace on a documentation address, serving a folder.

    reason = netns_unavailable()          # None, or why this machine cannot (skip with it)
    with netns_http_server(folder) as host:
        host.url("/sample.mp4")           # http://198.51.100.<n>:<port>/sample.mp4

It needs root and iproute2 (`ip`). Each use makes a namespace with a unique name and a veth
pair on a free /30 inside 198.51.100.0/24 (TEST-NET-2, RFC 5737: never routed, so traffic to
it stays on this machine; a /30 each, so that runs side by side do not collide), starts
`python -m http.server` inside the namespace, and tears all of it down on the way out, also
when the test fails. Nothing outside this machine is ever addressed.
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
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NetnsHost", "netns_http_server", "netns_unavailable"]

NETWORK = ipaddress.IPv4Network("198.51.100.0/24")
SUBNET_PREFIX = 30
IP_TIMEOUT_S = 30.0  # one `ip` command
READY_DEADLINE_S = 30.0  # the server inside prints its port within this
STOP_GRACE_S = 5.0
SERVING = "Serving HTTP on "


@dataclass(frozen=True)
class NetnsHost:
    namespace: str
    host_ip: str  # our end of the veth pair (an address of this machine)
    ns_ip: str  # the test host's address
    port: int  # the HTTP server's port inside the namespace

    def url(self, path: str = "/") -> str:
        return f"http://{self.ns_ip}:{self.port}{path}"


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
def netns_http_server(folder: Path) -> Iterator[NetnsHost]:
    """`python -m http.server` serving `folder` inside a fresh namespace; all removed after."""
    tag = secrets.token_hex(3)
    namespace, outer, inner = f"egress-{os.getpid()}-{tag}", f"veg{tag}a", f"veg{tag}b"
    subnet = _free_subnet()
    host_ip, ns_ip = (str(a) for a in list(subnet.hosts())[:2])
    server: subprocess.Popen[str] | None = None
    drainer: threading.Thread | None = None
    try:
        _ip("netns", "add", namespace)
        _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        _ip("link", "set", inner, "netns", namespace)
        _ip("addr", "add", f"{host_ip}/{SUBNET_PREFIX}", "dev", outer)
        _ip("link", "set", outer, "up")
        inside = ("netns", "exec", namespace, "ip")
        _ip(*inside, "addr", "add", f"{ns_ip}/{SUBNET_PREFIX}", "dev", inner)
        _ip(*inside, "link", "set", inner, "up")
        _ip(*inside, "link", "set", "lo", "up")
        server = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, "-u", "-m", "http.server", "0",
             "--bind", ns_ip, "--directory", str(folder)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        port, drainer = _wait_serving(server)
        yield NetnsHost(namespace, host_ip, ns_ip, port)
    finally:
        if server is not None:
            _stop(server, drainer)
        _ip("link", "del", outer, check=False)  # deletes both ends
        _ip("netns", "del", namespace, check=False)


def _wait_serving(server: subprocess.Popen[str]) -> tuple[int, threading.Thread]:
    """The port from the server's first line, and the thread that keeps reading its output."""
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.put(line)
        lines.put(None)

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    seen: list[str] = []
    deadline = time.monotonic() + READY_DEADLINE_S
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            raise RuntimeError(f"the namespace's server exited ({server.wait()}): {seen}")
        seen.append(line.rstrip())
        if line.startswith(SERVING):
            return int(line.split(" port ", 1)[1].split(" ", 1)[0]), drainer
    raise RuntimeError(f"the namespace's server did not start in {READY_DEADLINE_S}s: {seen}")


def _stop(server: subprocess.Popen[str], drainer: threading.Thread | None) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if drainer is not None:
        drainer.join(STOP_GRACE_S)  # the output ends with the process
    if server.stdout is not None and (drainer is None or not drainer.is_alive()):
        server.stdout.close()
