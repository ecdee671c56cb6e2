"""core.metrics in a process, the monitor's /metrics out: totals become counters per process that
survive a restart of the process and a lost message, histograms keep their buckets, the text
parses with prometheus_client's own parser, and every name the Grafana board uses is exported."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.metrics import FAMILIES
from ipc.messages import ActiveAlert, HealthReport, MachineHealth, Metrics, ProcessHealth, QueueHealth
from monitor.metrics import OWN, Exported
from monitor.queries import Figures

BOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboard.json"


@pytest.fixture(autouse=True)
def fresh_metrics():
    metrics.reset()
    yield
    metrics.reset()


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(text: str, sample: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"no {sample} {labels} in:\n{text}")


def as_process(name: str, pid: int) -> Metrics:
    snap = metrics.snapshot(name)
    return Metrics(name=name, pid=pid, sent_at=snap.sent_at, samples=snap.samples, histograms=snap.histograms)


def test_counters_survive_a_restart_and_a_lost_message():
    exported = Exported("monitor", own_metrics=False)
    metrics.count("jobs", platform="Youtube", outcome="done")
    metrics.count("jobs", platform="Youtube", outcome="done")
    exported.received(as_process("uploader", 100))
    metrics.count("jobs", platform="Youtube", outcome="done")
    lost = as_process("uploader", 100)  # never arrives
    assert lost.samples
    metrics.count("jobs", platform="Youtube", outcome="done")
    exported.received(as_process("uploader", 100))  # totals: the lost one's increase is in it
    text = exported.render().decode()
    assert value(text, "mediabot_jobs_total", process="uploader", platform="Youtube", outcome="done") == 4

    metrics.reset()  # the uploader restarts: a new pid counts from zero
    metrics.count("jobs", platform="Youtube", outcome="done")
    metrics.count("jobs", platform="Instagram", outcome="failed")
    exported.received(as_process("uploader", 200))
    exported.received(as_process("uploader", 200))  # the same totals again: nothing more
    text = exported.render().decode()
    assert value(text, "mediabot_jobs_total", process="uploader", platform="Youtube", outcome="done") == 5
    assert value(text, "mediabot_jobs_total", process="uploader", platform="Instagram", outcome="failed") == 1
    assert exported.totals()["done"] == 5 and exported.totals()["failed"] == 1


def test_histograms_and_gauges_per_process():
    exported = Exported("monitor", own_metrics=False)
    for seconds in (0.2, 0.7, 3.0, 3.0, 9999.0):
        metrics.observe("download_seconds", seconds, platform="Youtube")
    metrics.gauge("breaker_state", 2, platform="Youtube")
    exported.received(as_process("downloader-1", 11))
    metrics.reset()
    metrics.observe("download_seconds", 1.0, platform="Youtube")
    exported.received(as_process("downloader-2", 12))
    text = exported.render().decode()
    labels = {"process": "downloader-1", "platform": "Youtube"}
    assert value(text, "mediabot_download_seconds_bucket", le="0.5", **labels) == 1
    assert value(text, "mediabot_download_seconds_bucket", le="1.0", **labels) == 2
    assert value(text, "mediabot_download_seconds_bucket", le="5.0", **labels) == 4
    assert value(text, "mediabot_download_seconds_bucket", le="+Inf", **labels) == 5
    assert value(text, "mediabot_download_seconds_count", **labels) == 5
    assert value(text, "mediabot_download_seconds_sum", **labels) == pytest.approx(10005.9)
    assert value(text, "mediabot_download_seconds_count", process="downloader-2", platform="Youtube") == 1
    assert value(text, "mediabot_breaker_state", process="downloader-1", platform="Youtube") == 2
    with pytest.raises(AssertionError):  # the second downloader never said it
        value(text, "mediabot_breaker_state", process="downloader-2")


def test_every_family_has_help_and_type_and_a_bad_call_is_refused():
    text = Exported("monitor", own_metrics=False).render().decode()
    for name, family in {**FAMILIES, **OWN}.items():
        shown = f"mediabot_{name}_total" if family.kind == "counter" else f"mediabot_{name}"
        assert f"# HELP {shown} {family.help}\n# TYPE {shown} {family.kind}\n" in text, name
    with pytest.raises(KeyError):
        metrics.count("no_such_family")
    with pytest.raises(TypeError, match="labels"):
        metrics.count("jobs", platform="Youtube")
    with pytest.raises(TypeError, match="gauge"):
        metrics.count("breaker_state", platform="Youtube")


def full_export() -> str:
    """/metrics with a value in every family, as a running bot has after a while."""
    exported = Exported("monitor", own_metrics=False)
    for family in FAMILIES.values():
        labels: dict[str, str] = dict.fromkeys(family.labels, "x")
        if family.kind == "counter":
            metrics.count(family.name, 1.0, **labels)
        elif family.kind == "gauge":
            metrics.gauge(family.name, 1, **labels)
        else:
            metrics.observe(family.name, 1.0, **labels)
    exported.received(as_process("gateway", 1))
    process = ProcessHealth("gateway", 1, "ready", 10, 1.0, 0.5, 0)
    alert = ActiveAlert("disk", "alert_disk_low", {}, 1.0, True)
    report = HealthReport(
        status="ok", uptime_s=1, backend="sandbox", processes=[process], queue=QueueHealth(1, 1),
        active_users_24h=1, alerts=[alert], machine=MachineHealth(checked_at=1.0, disk_free_pct=50, load=(1, 1, 1)),
    )  # fmt: skip
    exported.observe_health(report, Figures())
    return exported.render().decode()


def board_names() -> set[str]:
    board = json.loads(BOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    return {name for expr in exprs for name in re.findall(r"\bmediabot_[a-z0-9_]+", expr)}


def test_every_metric_name_on_the_grafana_board_is_exported():
    samples = {s.name for f in text_string_to_metric_families(full_export()) for s in f.samples}
    used = board_names()
    assert len(used) >= 20
    missing = sorted(used - samples)
    assert not missing, f"the board uses names /metrics does not export: {missing}"
