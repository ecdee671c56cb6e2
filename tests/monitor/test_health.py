"""The monitor's view of the processes: the supervisor's table with heartbeats timed on arrival,
stalled when silent past HEARTBEAT_TIMEOUT, the status, the summary line."""

from __future__ import annotations

import pytest

from core.config import load_settings
from ipc.messages import ActiveAlert, Heartbeat, MachineHealth, ProcessInfo, ProcessTable
from monitor.health import Health, status
from monitor.housekeeping import Summary
from monitor.queries import Figures
from monitor.system import Sampler

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={"DATA_DIR": str(tmp_path), "HEARTBEAT_TIMEOUT": "3"}, env_file=None)


def table(*rows: tuple[str, int, str]) -> ProcessTable:
    infos = [ProcessInfo(name, pid, 0, state, T0) for name, pid, state in rows]
    return ProcessTable(processes=infos, sent_at=T0)


def test_a_process_silent_past_the_timeout_is_stalled_and_a_new_pid_is_not_judged_by_the_old_ones_beats(settings):
    clock = Clock()
    current = table(("supervisor", 1, "ready"), ("gateway", 10, "ready"), ("downloader-1", 11, "ready"))
    health = Health(settings, "monitor", Sampler(settings), lambda: current, supervised=True, clock=clock)
    health.heartbeat(Heartbeat(name="gateway", pid=10, sent_at=0.0))  # sent_at of another clock: not used
    health.heartbeat(Heartbeat(name="downloader-1", pid=11, sent_at=0.0))
    clock.now += 2.9
    health.heartbeat(Heartbeat(name="gateway", pid=10, sent_at=0.0))
    clock.now += 0.2
    states = {p.name: (p.state, p.heartbeat_age_s) for p in health.processes(sample=False)}
    assert states == {"supervisor": ("ready", None), "gateway": ("ready", 0.2), "downloader-1": ("stalled", 3.1)}
    current = table(("supervisor", 1, "ready"), ("gateway", 10, "ready"), ("downloader-1", 12, "ready"))
    states = {p.name: (p.state, p.heartbeat_age_s) for p in health.processes(sample=False)}
    assert states["downloader-1"] == ("ready", None)  # a restarted downloader: its own beats count


def test_alone_without_a_supervisor_it_lists_what_heart_beats(settings):
    clock = Clock()
    health = Health(settings, "monitor", Sampler(settings), lambda: None, supervised=False, clock=clock)
    health.heartbeat(Heartbeat(name="gateway", pid=10, sent_at=0.0))
    clock.now += 5
    names = {p.name: p.state for p in health.processes(sample=False)}
    assert names["gateway"] == "stalled" and names["monitor"] == "ready"


def test_status_ok_degraded_down(settings):
    clock = Clock()

    def report_status(rows, alerts=()):
        current = table(*rows)
        health = Health(settings, "monitor", Sampler(settings), lambda: current, supervised=True, clock=clock)
        return status(health.processes(sample=False), list(alerts))

    well = [("supervisor", 1, "ready"), ("gateway", 10, "ready"), ("uploader", 11, "ready")]
    assert report_status(well) == "ok"
    assert report_status([*well[:2], ("uploader", 0, "cooling")]) == "degraded"
    disk = ActiveAlert("disk", "alert_disk_low", {}, T0, True)
    memory = ActiveAlert("memory", "alert_memory_high", {}, T0, True)
    assert report_status(well, [memory]) == "ok" and report_status(well, [disk]) == "degraded"
    assert report_status([("supervisor", 1, "ready"), ("gateway", 0, "backoff"), ("uploader", 11, "ready")]) == "down"
    assert report_status([]) == "down"


def test_the_summary_line_says_what_happened_since_the_last_one(settings):
    clock = Clock()
    current = table(("supervisor", 1, "ready"), ("gateway", 10, "ready"))
    health = Health(settings, "monitor", Sampler(settings), lambda: current, supervised=True, clock=clock)
    health.machine = MachineHealth(disk_free_pct=42.0, memory_pct=51.0, cpu_pct=7.0, spool_bytes=3_000_000)
    report = health.report(Figures(queued=4, running=2), [])
    summary = Summary()
    first = summary.line(report, {"done": 10.0, "failed": 1.0, "sends": 40.0, "flood_waits": 0.0})
    second = summary.line(report, {"done": 25.0, "failed": 1.0, "sends": 90.0, "flood_waits": 2.0})
    assert "jobs done 10, failed 1;" in first
    assert "jobs done 15, failed 0; queue 4 queued, 2 running; sends 50, flood waits 2;" in second
    assert "disk 42 % free, memory 51 %, cpu 7 %; spool 3 MB; alerts: none" in second
