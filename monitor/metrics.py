"""/metrics: every process's core.metrics families plus the monitor's own figures (psutil, the
queue, restarts, alerts), in the Prometheus text format, from one ordinary prometheus_client
registry (a custom collector over what the monitor holds; not the multiprocess mode).

Processes send totals since they started (`Metrics`); the monitor keeps, per process name, the
last totals of its current pid and adds the increase to its own series, labelled with the
process. A restarted process (a new pid) starts from zero again, and its counters simply go on
growing here: Prometheus sees one counter per process that never goes back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from core import metrics
from core.metrics import FAMILIES, PREFIX, Family
from ipc.messages import HealthReport, Metrics
from monitor.queries import Figures

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

log = logging.getLogger("monitor.metrics")

PROCESS = "process"  # the label every process-sent series gets

# The monitor's own figures, computed here rather than counted by a process.
OWN: dict[str, Family] = {
    f.name: f
    for f in (
        Family("process_up", "gauge", "1 while the process is running and heart-beating.", (PROCESS,)),
        Family("process_rss_bytes", "gauge", "Resident memory of the process.", (PROCESS,)),
        Family("process_cpu_percent", "gauge", "CPU of the process since the last reading (100: one core).",
               (PROCESS,)),
        Family("process_threads", "gauge", "Threads of the process.", (PROCESS,)),
        Family("process_open_files", "gauge", "File descriptors the process holds (sockets too).", (PROCESS,)),
        Family("process_heartbeat_age_seconds", "gauge", "Seconds since the process's last heartbeat.", (PROCESS,)),
        Family("process_restarts", "counter", "Restarts of the process by the supervisor.", (PROCESS,)),
        Family("disk_free_bytes", "gauge", "Free space on the disk of DATA_DIR."),
        Family("disk_free_ratio", "gauge", "Free share of the disk of DATA_DIR (0 to 1)."),
        Family("memory_used_ratio", "gauge", "Share of the machine's memory in use (0 to 1)."),
        Family("cpu_used_ratio", "gauge", "Share of the machine's CPU in use since the last check (0 to 1)."),
        Family("load_average", "gauge", "The machine's load average.", ("period",)),
        Family("spool_bytes", "gauge", "Bytes in the spool folder (files waiting to be sent)."),
        Family("database_bytes", "gauge", "Size of the database with its WAL."),
        Family("queue_jobs", "gauge", "Jobs not yet ended, by state (queued, running).", ("state",)),
        Family("outbox_due_messages", "gauge", "Messages due to be sent and not yet sent."),
        Family("outbox_oldest_seconds", "gauge", "How long the oldest due message has waited."),
        Family("active_users_24h", "gauge", "Users seen in the last 24 hours."),
        Family("alerts_active", "gauge", "Alerts that have not cleared, by kind.", ("kind",)),
        Family("uptime_seconds", "gauge", "Seconds since the monitor started."),
    )
}  # fmt: skip
LOAD_PERIODS = ("1m", "5m", "15m")

Key = tuple[str, tuple[str, ...]]  # (family, label values with the process first)


class Exported:
    """What /metrics shows; `collect` is called by the registry on each scrape. prometheus_client
    is imported at the first scrape: a bot nobody scrapes does not carry it."""

    def __init__(self, own_process: str, *, own_metrics: bool = True) -> None:
        self.own_process = own_process
        self.own_metrics = own_metrics  # the monitor's own core.metrics go out with the rest
        self.values: dict[Key, float] = {}  # counters (accumulated) and gauges (latest)
        self.histograms: dict[Key, list[float]] = {}  # per-bucket counts, +Inf, then the sum
        self._seen: dict[str, tuple[int, dict[Key, float], dict[Key, list[float]]]] = {}
        self.own: dict[Key, float] = {}
        self._registry: CollectorRegistry | None = None

    # ---- in ---------------------------------------------------------------------------------

    def received(self, msg: Metrics) -> None:
        """A process's totals: add what grew since its last message (all of it for a new pid)."""
        pid, last_values, last_histograms = self._seen.get(msg.name, (0, {}, {}))
        if pid != msg.pid:
            last_values, last_histograms = {}, {}
            self._forget_gauges(msg.name)
        values: dict[Key, float] = {}
        for sample in msg.samples:
            family = FAMILIES.get(sample.family)
            if family is None or family.kind == "histogram" or len(sample.labels) != len(family.labels):
                continue  # a family this monitor does not know (a newer process): skip it
            key = (sample.family, (msg.name, *sample.labels))
            values[key] = sample.value
            if family.kind == "gauge":
                self.values[key] = sample.value
            else:
                grown = sample.value - last_values.get(key, 0.0)
                if grown > 0:
                    self.values[key] = self.values.get(key, 0.0) + grown
        histograms: dict[Key, list[float]] = {}
        for h in msg.histograms:
            family = FAMILIES.get(h.family)
            if family is None or family.kind != "histogram" or len(h.counts) != len(family.buckets) + 1:
                continue
            key = (h.family, (msg.name, *h.labels))
            now = [*map(float, h.counts), h.sum]
            histograms[key] = now
            before = last_histograms.get(key, [0.0] * len(now))
            total = self.histograms.setdefault(key, [0.0] * len(now))
            for i, value in enumerate(now):
                total[i] += max(0.0, value - before[i])
        self._seen[msg.name] = (msg.pid, values, histograms)

    def _forget_gauges(self, process: str) -> None:
        for key in [k for k in self.values if k[1][0] == process and FAMILIES[k[0]].kind == "gauge"]:
            del self.values[key]

    def observe_health(self, report: HealthReport, figures: Figures) -> None:
        """The monitor's own figures, from its latest report."""
        own: dict[Key, float] = {}
        for p in report.processes:
            labels = (p.name,)
            own[("process_up", labels)] = 1.0 if p.state == "ready" else 0.0
            own[("process_rss_bytes", labels)] = p.rss_bytes
            own[("process_cpu_percent", labels)] = p.cpu_percent
            own[("process_threads", labels)] = p.threads
            own[("process_open_files", labels)] = p.open_files
            own[("process_restarts", labels)] = p.restarts
            if p.heartbeat_age_s is not None:
                own[("process_heartbeat_age_seconds", labels)] = p.heartbeat_age_s
        m = report.machine
        if m.checked_at:
            own[("disk_free_bytes", ())] = m.disk_free_bytes
            own[("disk_free_ratio", ())] = m.disk_free_pct / 100
            own[("memory_used_ratio", ())] = m.memory_pct / 100
            own[("cpu_used_ratio", ())] = m.cpu_pct / 100
            for period, value in zip(LOAD_PERIODS, m.load, strict=True):
                own[("load_average", (period,))] = value
            own[("spool_bytes", ())] = m.spool_bytes
            own[("database_bytes", ())] = m.database_bytes
        own[("queue_jobs", ("queued",))] = figures.queued
        own[("queue_jobs", ("running",))] = figures.running
        own[("outbox_due_messages", ())] = figures.outbox_due
        own[("outbox_oldest_seconds", ())] = figures.outbox_oldest_s
        own[("active_users_24h", ())] = figures.active_users_24h
        for a in report.alerts:
            own[("alerts_active", (a.kind,))] = 1.0
        own[("uptime_seconds", ())] = report.uptime_s
        self.own = own

    def totals(self) -> dict[str, float]:
        """Counters summed over processes and labels (jobs by outcome), for the summary line."""
        out: dict[str, float] = {}
        for (name, labels), value in self.values.items():
            if FAMILIES[name].kind != "counter":
                continue
            out[name] = out.get(name, 0.0) + value
            if name == "jobs":
                out[labels[-1]] = out.get(labels[-1], 0.0) + value  # outcome: done, failed, cancelled
        return out

    # ---- out --------------------------------------------------------------------------------

    def render(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest

        if self.own_metrics:
            self.received(metrics.snapshot(self.own_process))
        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(self)  # a collector is whatever has collect()
        return bytes(generate_latest(self._registry))

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        for family in FAMILIES.values():
            if family.kind == "histogram":
                yield self._histogram(family)
            else:
                yield _family(family, (PROCESS, *family.labels), self._series(family.name, self.values))
        for family in OWN.values():
            yield _family(family, family.labels, self._series(family.name, self.own))

    def _series(self, name: str, source: dict[Key, float]) -> Iterable[tuple[tuple[str, ...], float]]:
        return sorted((labels, value) for (family, labels), value in source.items() if family == name)

    def _histogram(self, family: Family) -> HistogramMetricFamily:
        from prometheus_client.core import HistogramMetricFamily
        from prometheus_client.utils import floatToGoString

        out = HistogramMetricFamily(PREFIX + family.name, family.help, labels=(PROCESS, *family.labels))
        bounds = [*(floatToGoString(b) for b in family.buckets), "+Inf"]
        for (name, labels), counts in sorted(self.histograms.items()):
            if name != family.name:
                continue
            cumulative, running = [], 0.0
            for bound, count in zip(bounds, counts[:-1], strict=True):
                running += count
                cumulative.append((bound, running))
            out.add_metric(list(labels), cumulative, sum_value=counts[-1])
        return out


def _family(
    family: Family, labels: tuple[str, ...], series: Iterable[tuple[tuple[str, ...], float]]
) -> CounterMetricFamily | GaugeMetricFamily:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    kind: Any = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
    out = kind(PREFIX + family.name, family.help, labels=labels)
    for values, value in series:
        out.add_metric(list(values), value)
    return out
