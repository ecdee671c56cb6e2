"""Where the channels live, from the settings (the wiring) and from what it passes in (ipc)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from core.child import endpoints_for
from core.config import SettingsError, load_settings
from ipc.endpoints import Endpoints, PathTooLong
from tests.support.paths import ROOT

FIELDS = ["control", "jobs", "events", "outbox", "telemetry", "monitor_rpc"]


def test_ipc_endpoints_are_sockets_in_the_run_folder_and_touch_no_disk(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path / "data")}, env_file=None)
    endpoints = endpoints_for(settings)
    assert [f.name for f in dataclasses.fields(Endpoints)] == FIELDS
    for name in FIELDS:
        assert getattr(endpoints, name) == f"ipc://{tmp_path}/data/run/{name}.sock"
    assert not (tmp_path / "data").exists()


def test_tcp_endpoints_are_consecutive_ports():
    settings = load_settings(
        environ={"IPC_TRANSPORT": "tcp", "IPC_HOST": "10.0.0.5", "IPC_BASE_PORT": "6000"}, env_file=None
    )
    endpoints = endpoints_for(settings)
    assert [getattr(endpoints, name) for name in FIELDS] == [f"tcp://10.0.0.5:{6000 + i}" for i in range(6)]


def test_a_data_dir_too_deep_for_unix_sockets_is_refused_by_name(tmp_path):
    settings = load_settings(environ={"DATA_DIR": str(tmp_path / ("d" * 120))}, env_file=None)
    with pytest.raises(SettingsError, match=r"DATA_DIR.*IPC_TRANSPORT=tcp"):
        endpoints_for(settings)


def test_ipc_knows_no_settings(tmp_path):
    probe = "import sys, ipc.endpoints; print(sorted(m for m in sys.modules if m.startswith('core')))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"  # the wiring passes folders and ports in
    assert Endpoints.unix(tmp_path).control == f"ipc://{tmp_path}/control.sock"
    with pytest.raises(PathTooLong):
        Endpoints.unix(tmp_path / ("d" * 120))
