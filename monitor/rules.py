"""The monitor's thresholds as pure decisions: readings in, findings out. Each finding says of
one alert kind whether it fires now (with the alert's text) or is clear (with the "resolved"
text); `monitor.alerts` turns the changes into messages. Every threshold is a setting.

- disk: free space of DATA_DIR under ALERT_DISK_FREE_PCT (critical);
- memory over ALERT_MEMORY_PCT; CPU over ALERT_CPU_PCT in two readings in a row;
- spool: over ALERT_DOWNLOADS_GB;
- stalled:<process>: silent past HEARTBEAT_TIMEOUT; crash_loop:<kind>: the supervisor paused it;
- failure_rate: over ALERT_FAILURE_PCT of the jobs that ended in ALERT_FAILURE_WINDOW_MIN, with at
  least ALERT_FAILURE_MIN_JOBS of them;
- send_queue: a due message older than ALERT_SEND_QUEUE_AGE_S;
- host:<name>: a downloader host silent past HEARTBEAT_TIMEOUT, or gone on purpose; back: resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.alerts import crash_loop_kind, crash_loop_values
from core.config import Settings
from ipc.messages import HOST_LEFT, HOST_LOST, HostHealth, MachineHealth, ProcessHealth
from monitor.queries import FailureRate, Figures

GB = 1_000_000_000
CRITICAL_KINDS = ("disk",)  # an active one of these makes /healthz "degraded"
CRASH_LOOP_STATES = ("cooling", "given-up")  # the supervisor stopped restarting the kind for now
STALLED = "stalled"


@dataclass(frozen=True)
class Finding:
    kind: str
    firing: bool
    text_key: str  # the alert's text when firing, the "resolved" text when clear
    values: dict[str, object] = field(default_factory=dict)


def process_kind(name: str) -> str:
    """`downloader-2` -> `downloader`: crash loops are per kind, as the supervisor counts them."""
    return name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name


class Rules:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cpu_high_before = False  # the previous reading was over the line too

    def machine(self, m: MachineHealth) -> list[Finding]:
        s = self.settings
        free: dict[str, object] = {"free_pct": round(m.disk_free_pct, 1)}
        cpu_high = m.cpu_pct > s.alert_cpu_pct
        sustained, self._cpu_high_before = cpu_high and self._cpu_high_before, cpu_high
        spool_gb = round(m.spool_bytes / GB, 1)
        found = [
            _either(
                "disk",
                m.disk_free_pct < s.alert_disk_free_pct,
                ("alert_disk_low", {**free, "free_gb": round(m.disk_free_bytes / GB, 1), "path": str(s.data_dir)}),
                ("alert_disk_ok", free),
            ),
            _either(
                "memory",
                m.memory_pct > s.alert_memory_pct,
                ("alert_memory_high", {"pct": round(m.memory_pct), "limit": round(s.alert_memory_pct)}),
                ("alert_memory_ok", {"pct": round(m.memory_pct)}),
            ),
            _either(
                "spool",
                m.spool_bytes > s.alert_downloads_gb * GB,
                ("alert_spool_large", {"size": spool_gb, "limit": round(s.alert_downloads_gb)}),
                ("alert_spool_ok", {"size": spool_gb}),
            ),
        ]
        # CPU fires on two readings over the line and clears on one under it; one reading over
        # the line after one under it says nothing yet.
        if sustained:
            found.append(
                Finding("cpu", True, "alert_cpu_high", {"pct": round(m.cpu_pct), "limit": round(s.alert_cpu_pct)})
            )
        elif not cpu_high:
            found.append(Finding("cpu", False, "alert_cpu_ok", {"pct": round(m.cpu_pct)}))
        return found

    def processes(self, processes: list[ProcessHealth]) -> list[Finding]:
        found = []
        kinds: dict[str, list[ProcessHealth]] = {}
        for p in processes:
            kinds.setdefault(process_kind(p.name), []).append(p)
            if p.state == STALLED:
                seconds = round(p.heartbeat_age_s or 0)
                values = {"name": p.name, "seconds": seconds, "kill_after": round(self.settings.hung_kill_after)}
                found.append(Finding(f"stalled:{p.name}", True, "alert_process_stalled", values))
            elif p.state == "ready":
                found.append(Finding(f"stalled:{p.name}", False, "alert_process_stalled_ok", {"name": p.name}))
        for kind, members in kinds.items():
            looping = [p for p in members if p.state in CRASH_LOOP_STATES]
            if looping:
                reason = looping[0].last_exit or looping[0].state
                values = crash_loop_values(self.settings, kind, reason)
                found.append(Finding(crash_loop_kind(kind), True, "alert_crash_loop", values))
            elif all(p.state == "ready" for p in members):
                found.append(Finding(crash_loop_kind(kind), False, "alert_crash_loop_ok", {"kind": kind}))
        return found

    def hosts(self, hosts: list[HostHealth]) -> list[Finding]:
        """host:<name>: a downloader host that left or went silent; its return clears it."""
        found = []
        for h in hosts:
            kind = f"host:{h.name}"
            if h.state == HOST_LOST:
                found.append(Finding(kind, True, "alert_host_lost", {"host": h.name, "seconds": round(h.seen_age_s)}))
            elif h.state == HOST_LEFT:
                found.append(Finding(kind, True, "alert_host_left", {"host": h.name}))
            else:
                found.append(Finding(kind, False, "alert_host_back", {"host": h.name, "workers": h.downloaders}))
        return found

    def jobs(self, rate: FailureRate, figures: Figures) -> list[Finding]:
        s = self.settings
        minutes = round(s.alert_failure_window_min)
        failing = rate.total >= s.alert_failure_min_jobs and rate.pct > s.alert_failure_pct
        old = figures.outbox_oldest_s > s.alert_send_queue_age_s
        return [
            _either(
                "failure_rate",
                failing,
                ("alert_failure_rate", {"pct": round(rate.pct), "failed": rate.failed, "total": rate.total,
                                        "minutes": minutes}),
                ("alert_failure_rate_ok", {"pct": round(rate.pct), "limit": round(s.alert_failure_pct),
                                           "minutes": minutes}),
            ),
            _either(
                "send_queue",
                old,
                ("alert_send_queue_old", {"minutes": round(figures.outbox_oldest_s / 60), "count": figures.outbox_due}),
                ("alert_send_queue_ok", {}),
            ),
        ]  # fmt: skip


def _either(
    kind: str, firing: bool, alert: tuple[str, dict[str, object]], resolved: tuple[str, dict[str, object]]
) -> Finding:
    key, values = alert if firing else resolved
    return Finding(kind, firing, key, values)
