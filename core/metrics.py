"""A process's own counters, gauges and histograms: cheap to bump, shipped to the monitor.

Every family is declared once below (name, type, help, label names, buckets); the processes bump
them with `count`, `gauge` and `observe`, and the monitor exports them from the same table, so a
name used by a process and the name on the board are one fact. Values live in this process only
(one dict, under a lock: the downloaders bump from yt-dlp's threads); `core.child` ships a
snapshot of totals since the process started as one typed `Metrics` message per heartbeat when
something changed. The monitor turns the totals into increments per process, so a restart of a
process or a lost message costs nothing but the figures of the crash itself.

A bump costs about a microsecond: call it where the event happens, one line.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from dataclasses import dataclass

from ipc.messages import HistogramSample, Metrics, MetricSample

__all__ = ["FAMILIES", "Family", "count", "gauge", "observe", "snapshot"]

PREFIX = "mediabot_"  # every exported name starts with it


@dataclass(frozen=True)
class Family:
    """One metric family. Counter names carry no `_total`: the exporter adds it."""

    name: str
    kind: str  # "counter", "gauge" or "histogram"
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()  # histograms: upper bounds, +Inf implied


_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_LONG_SECONDS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0, 1800.0)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("jobs", "counter", "Jobs that ended, by platform and outcome (done, failed, cancelled).",
               ("platform", "outcome")),
        Family("probe_seconds", "histogram", "Time to probe a link (yt-dlp's extraction).", ("platform",), _SECONDS),
        Family("download_seconds", "histogram", "Time to download a file, conversion excluded.", ("platform",),
               _LONG_SECONDS),
        Family("convert_seconds", "histogram", "Time ffmpeg took to make a download playable.", ("platform",),
               _LONG_SECONDS),
        Family("upload_seconds", "histogram", "Time to upload a file to Telegram.", (), _LONG_SECONDS),
        Family("downloaded_bytes", "counter", "Bytes downloaded.", ("platform",)),
        Family("uploaded_bytes", "counter", "Bytes uploaded to Telegram.", ()),
        Family("sends", "counter", "Calls to Telegram that went through, by method and priority.",
               ("method", "priority")),
        Family("flood_waits", "counter", "429s and FloodWaits Telegram answered, by scope.", ("scope",)),
        Family("flood_wait_seconds", "counter", "Seconds of FloodWait Telegram asked for.", ("scope",)),
        Family("cache_hits", "counter", "Files sent again from the cache by their file_id, without a download.", ()),
        Family("single_flight_joins", "counter", "Jobs that waited for the same media's download instead of "
               "starting their own.", ()),
        Family("sponsor_checks", "counter", "getChatMember checks of the sponsor locks, by result.", ("result",)),
        Family("egress_refusals", "counter", "Connections the egress guard refused, by reason.", ("reason",)),
        Family("breaker_state", "gauge", "A platform's circuit breaker: 0 closed, 1 half open, 2 open.",
               ("platform",)),
    )
}  # fmt: skip


# ---- this process's values ------------------------------------------------------------------------

_lock = threading.Lock()
_values: dict[tuple[str, tuple[str, ...]], float] = {}  # counters and gauges
_histograms: dict[tuple[str, tuple[str, ...]], list[float]] = {}  # per-bucket counts, +Inf, then the sum
_changes = 0  # bumped on every change: the shipper sends only when it moved


def count(name: str, amount: float = 1.0, **labels: str) -> None:
    """Add `amount` to counter `name` (labels as declared in FAMILIES)."""
    global _changes
    key = (name, _label_values(name, "counter", labels))
    with _lock:
        _values[key] = _values.get(key, 0.0) + amount
        _changes += 1


def gauge(name: str, value: float, **labels: str) -> None:
    """Set gauge `name` to `value`."""
    global _changes
    key = (name, _label_values(name, "gauge", labels))
    with _lock:
        _values[key] = value
        _changes += 1


def observe(name: str, value: float, **labels: str) -> None:
    """Record one observation of histogram `name`."""
    global _changes
    family = FAMILIES[name]
    key = (name, _label_values(name, "histogram", labels))
    slot = bisect.bisect_left(family.buckets, value)
    with _lock:
        counts = _histograms.get(key)
        if counts is None:
            counts = _histograms[key] = [0.0] * (len(family.buckets) + 2)
        counts[slot] += 1
        counts[-1] += value
        _changes += 1


def _label_values(name: str, kind: str, labels: dict[str, str]) -> tuple[str, ...]:
    family = FAMILIES[name]  # a KeyError names a family nobody declared: a bug at the call site
    if family.kind != kind:
        raise TypeError(f"metric {name} is a {family.kind}, not a {kind}")
    if len(labels) != len(family.labels):
        raise TypeError(f"metric {name} takes labels {family.labels}, got {tuple(labels)}")
    return tuple(str(labels[label]) for label in family.labels)


def changes() -> int:
    """A number that moves whenever a value changed (the shipper compares it)."""
    return _changes


def snapshot(process: str) -> Metrics:
    """Every value of this process, as totals since it started."""
    with _lock:
        samples = [MetricSample(name, labels, value) for (name, labels), value in _values.items()]
        histograms = [
            HistogramSample(name, labels, tuple(int(c) for c in counts[:-1]), counts[-1])
            for (name, labels), counts in _histograms.items()
        ]
    return Metrics(name=process, pid=os.getpid(), sent_at=time.time(), samples=samples, histograms=histograms)


def reset() -> None:
    """Forget every value (for tests and benchmarks that measure one run in one process)."""
    global _changes
    with _lock:
        _values.clear()
        _histograms.clear()
        _changes += 1
