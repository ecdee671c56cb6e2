"""CURVE keys and the authenticator: every tcp:// link between hosts is encrypted and both ends
know each other (ZeroMQ's "Ironhouse" pattern).

```
DATA_DIR/curve/host.key          this host's public key   (pyzmq's zmq.auth certificate format)
DATA_DIR/curve/host.key_secret   ... and its secret key   (mode 0600)
DATA_DIR/curve/authorized/*.key  main host: the downloader hosts it accepts (their host.key)
DATA_DIR/curve/server.key        downloader host: the main host's host.key
```

The main host's listener is a CURVE server whose ZAP handler (`Authenticator`, in the process
that binds) accepts a client only if its public key is in `authorized/`: the folder is read at
each connection, so a host is added or removed without a restart. A refused host is logged once
per address and key. A joining host is a CURVE client that names the server's key, so it talks
only to the main host it was given.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import trio
import zmq
import zmq.auth

from ipc.zmqtrio import Socket, open_socket

__all__ = [
    "AUTHORIZED",
    "HOST_KEY",
    "SERVER_KEY",
    "Authenticator",
    "CurveKeys",
    "KeysMissing",
    "client_options",
    "load_keys",
    "make_keys",
    "server_options",
]

log = logging.getLogger(__name__)

HOST_KEY = "host.key"
SERVER_KEY = "server.key"
AUTHORIZED = "authorized"
ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # where libzmq asks (RFC 27)
ZAP_DOMAIN = b"bot"
MAX_LOGGED_REFUSALS = 1024  # a scanner trying ever-new keys must not grow the memory of refusals


class KeysMissing(RuntimeError):
    """A key file this host needs is not there; the message says which and how to make it."""


@dataclass(frozen=True)
class CurveKeys:
    public: bytes  # Z85, 40 bytes
    secret: bytes


def make_keys(curve_dir: Path) -> Path:
    """Make this host's key pair (refusing to overwrite one); returns the public key's path."""
    public = curve_dir / HOST_KEY
    if public.exists() or (curve_dir / f"{HOST_KEY}_secret").exists():
        raise FileExistsError(f"{public} already exists; remove both key files first to make new ones")
    (curve_dir / AUTHORIZED).mkdir(parents=True, exist_ok=True)
    os.chmod(curve_dir, 0o700)
    old = os.umask(0o077)  # the secret file is never readable by others, not even for a moment
    try:
        public_path, secret_path = zmq.auth.create_certificates(curve_dir, HOST_KEY.removesuffix(".key"))
    finally:
        os.umask(old)
    os.chmod(secret_path, 0o600)
    os.chmod(public_path, 0o644)
    return Path(public_path)


def load_keys(curve_dir: Path) -> CurveKeys:
    """This host's key pair."""
    path = curve_dir / f"{HOST_KEY}_secret"
    if not path.is_file():
        raise KeysMissing(f"no CURVE key pair in {curve_dir} (make one with `python run.py keys`)")
    public, secret = zmq.auth.load_certificate(path)
    if secret is None:
        raise KeysMissing(f"{path} holds no secret key")
    return CurveKeys(public, secret)


def server_key(curve_dir: Path) -> bytes:
    """The main host's public key, as a joining host knows it."""
    path = curve_dir / SERVER_KEY
    if not path.is_file():
        raise KeysMissing(f"no {path}: copy the main host's {HOST_KEY} there")
    return zmq.auth.load_certificate(path)[0]


def authorized_keys(curve_dir: Path) -> dict[bytes, str]:
    """Public key (Z85) -> the host's name (its file's name) for every `authorized/*.key`."""
    keys: dict[bytes, str] = {}
    folder = curve_dir / AUTHORIZED
    for path in sorted(folder.glob("*.key")) if folder.is_dir() else []:
        try:
            keys[zmq.auth.load_certificate(path)[0]] = path.stem
        except (OSError, ValueError) as exc:
            log.warning("cannot read the authorized key %s (%s); skipped", path, exc)
    return keys


def server_options(keys: CurveKeys, heartbeat_ms: int, timeout_ms: int) -> dict[str, int | bytes]:
    """Options of a listening socket, set before its tcp:// bind (each listener keeps its own)."""
    return {
        "curve_server": 1,
        "curve_secretkey": keys.secret,
        "zap_domain": ZAP_DOMAIN,
        **link_options(heartbeat_ms, timeout_ms),
    }


def client_options(keys: CurveKeys, server: bytes, heartbeat_ms: int, timeout_ms: int) -> dict[str, int | bytes]:
    """Options of a joining socket, set before it connects."""
    return {
        "curve_serverkey": server,
        "curve_publickey": keys.public,
        "curve_secretkey": keys.secret,
        **link_options(heartbeat_ms, timeout_ms),
    }


def link_options(heartbeat_ms: int, timeout_ms: int) -> dict[str, int | bytes]:
    """ZMTP heartbeats: a cut link (a cable, `ip link set down`) is noticed on both sides, so that
    the joining end reconnects and the listening end lets the new connection take over."""
    return {
        "heartbeat_ivl": heartbeat_ms,
        "heartbeat_timeout": timeout_ms,
        "heartbeat_ttl": timeout_ms,
        "connect_timeout": timeout_ms,  # a connect lost in a dead link is given up and tried again
    }


def apply_options(socket: Socket, options: dict[str, int | bytes]) -> None:
    for name, value in options.items():
        socket.zmq.setsockopt(getattr(zmq, name.upper()), value)


class Authenticator:
    """The ZAP handler: a CURVE client is let in only with a key in `authorized/`.

    Bind it (construct it) before the listener, and run `serve` in a nursery of the same process.
    """

    def __init__(self, curve_dir: Path) -> None:
        self.curve_dir = curve_dir
        self.socket: Socket = open_socket(zmq.ROUTER, bind=ZAP_ENDPOINT)
        self.refused: set[tuple[str, bytes]] = set()
        self.accepted_total = 0
        self.refused_total = 0

    def close(self) -> None:
        if not self.socket.closed:  # unbound first: a socket's close is finished later, in libzmq's reaper
            self.socket.zmq.unbind(ZAP_ENDPOINT)
        self.socket.close(0)

    async def serve(self, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            frames = await self.socket.recv()
            # ROUTER: [peer, empty delimiter, version, request id, domain, address, identity, mechanism, key]
            if len(frames) < 9 or frames[1] != b"":
                continue
            peer, _, version, request_id, _domain, address, _identity, mechanism, *credentials = frames
            status, user = self.decide(address.decode("utf-8", "replace"), mechanism, credentials)
            reply = [peer, b"", version, request_id, status, b"OK" if status == b"200" else b"refused", user, b""]
            await self.socket.send(reply)

    def decide(self, address: str, mechanism: bytes, credentials: list[bytes]) -> tuple[bytes, bytes]:
        """(status code, user id): the host's name when its key is authorized."""
        key = zmq.utils.z85.encode(credentials[0]) if mechanism == b"CURVE" and credentials else b""
        host = authorized_keys(self.curve_dir).get(key) if key else None
        if host is not None:
            self.accepted_total += 1
            log.info("host %s joined from %s", host, address)
            return b"200", host.encode()
        self.refused_total += 1
        if (address, key) not in self.refused and len(self.refused) < MAX_LOGGED_REFUSALS:
            self.refused.add((address, key))
            shown = key.decode() if key else mechanism.decode("ascii", "replace")
            log.warning("refused a host from %s: its key %s is not in %s", address, shown, self.curve_dir / AUTHORIZED)
        return b"400", b""
