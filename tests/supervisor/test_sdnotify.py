"""sd_notify over a real unix datagram socket, as systemd listens."""

from __future__ import annotations

import socket

from core.supervisor.sdnotify import SystemdNotifier


def test_messages_reach_the_notify_socket(tmp_path):
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        listener.settimeout(5)
        notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
        assert notifier.enabled and notifier.watchdog_interval == 1.0
        notifier.ready("running 5 processes")
        assert listener.recv(4096).decode().split("\n") == ["READY=1", "STATUS=running 5 processes"]
        notifier.watchdog()
        assert listener.recv(4096) == b"WATCHDOG=1"
        notifier.close()


def test_without_systemd_it_does_nothing():
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.watchdog_interval is None
    notifier.ready("x")  # no error
