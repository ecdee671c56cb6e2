"""The monitor of a running `--workers 2` bot, seen as an operator and an admin see it: /healthz
lists every process with its real pid and RSS and turns degraded when a child is down; a
downloader stopped with SIGSTOP is reported stalled to the admin, and resolved once continued;
/metrics parses with prometheus_client's parser and its counters match the jobs and sends made;
an uploader that crash-loops is reported to the admin by the monitor itself.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psutil
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from core.texts import text
from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.e2e.test_journey import set_default
from tests.support.bot import BotProcess, Chat
from tests.support.poll import until

users = itertools.count(80_000)
ADMIN = 4242
HEARTBEAT_TIMEOUT_S = 3.0
RESTART_DELAY_S = 4.0  # a killed child stays down this long: long enough to see, short enough to wait
MONITORED = {
    "ADMIN_IDS": str(ADMIN),
    "HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_S),
    "HUNG_KILL_AFTER": "600",  # the stopped downloader must not be killed while the test looks at it
    "HEALTH_CHECK_INTERVAL": "2",
    "RESTART_MIN_DELAY": str(RESTART_DELAY_S),
    "RESTART_MAX_DELAY": str(RESTART_DELAY_S),
}
KINDS = {"monitor", "uploader", "gateway", "downloader"}
# The Bot API methods behind each `method` label of mediabot_sends_total (deliver.py's payload kinds).
BOT_API_METHODS = {
    "text": ("sendMessage",),
    "edit": ("editMessageText", "editMessageReplyMarkup"),
    "delete": ("deleteMessage",),
    "media": ("sendVideo", "sendAudio", "sendDocument", "sendPhoto", "sendAnimation"),
    "copy": ("copyMessage",),
    "callback_answer": ("answerCallbackQuery",),
}


@pytest.fixture(scope="module")
def monitored_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("monitored"), env=MONITORED, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(monitored_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=monitored_bot.url, timeout=HTTP_TIMEOUT_S) as client:
        yield client


def get(bot: BotProcess, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{bot.monitor_port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:  # 503 carries the report too
        return exc.code, exc.read()


def healthz(bot: BotProcess) -> tuple[int, dict[str, Any]]:
    status, body = get(bot, "/healthz")
    return status, json.loads(body)


async def healthy(bot: BotProcess) -> dict[str, Any] | None:
    """The report while /healthz answers 200 (all is well), else None."""
    status, report = healthz(bot)
    return report if status == 200 else None


def scrape(bot: BotProcess) -> dict[str, Any]:
    status, body = get(bot, "/metrics")
    assert status == 200
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def total(families: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    found = families.get(family)
    if found is None:
        return 0.0
    return sum(
        s.value for s in found.samples if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_healthz_lists_every_process_with_its_real_pid_and_rss(monitored_bot):
    async def all_fresh() -> dict[str, Any] | None:
        status, report = healthz(monitored_bot)
        procs = {p["name"]: p for p in report["processes"]}
        fresh = all(procs.get(n, {}).get("heartbeat_age_s") is not None for n in ("gateway", "downloader-2"))
        return report if status == 200 and report["status"] == "ok" and fresh else None

    report = await until("/healthz ok with every heartbeat", all_fresh, 60, describe=monitored_bot.log)
    assert report["backend"] == "sandbox" and report["uptime_s"] > 0
    assert set(report["queue"]) == {"queued", "running"} and report["active_users_24h"] >= 0
    procs = {p["name"]: p for p in report["processes"]}
    bot_children = {"monitor", "uploader", "gateway", "downloader-1", "downloader-2"}
    assert bot_children | {"supervisor", "sandbox"} == set(procs)
    supervisor = psutil.Process(monitored_bot.proc.pid)
    assert procs["supervisor"]["pid"] == supervisor.pid
    children = {c.pid: c for c in supervisor.children()}
    for name, p in procs.items():
        assert set(p) >= {"name", "pid", "state", "rss_bytes", "cpu_percent", "heartbeat_age_s", "restarts"}
        assert p["state"] == "ready" and p["restarts"] >= 0, p  # (another test may have restarted one)
        real = supervisor if name == "supervisor" else children[p["pid"]]  # a real child of the supervisor
        if name in bot_children:
            assert name.split("-")[0] in real.cmdline(), (name, real.cmdline())
            assert p["heartbeat_age_s"] < HEARTBEAT_TIMEOUT_S
        rss = real.memory_info().rss
        assert p["rss_bytes"] > 10_000_000 and 0.5 * rss < p["rss_bytes"] < 2 * rss, (name, p["rss_bytes"], rss)


async def test_healthz_turns_degraded_while_a_child_is_down_and_ok_once_it_is_back(monitored_bot):
    await until("/healthz ok", lambda: healthy(monitored_bot), 60, describe=monitored_bot.log)
    killed = monitored_bot.kill("downloader-2")

    async def degraded() -> dict[str, Any] | None:
        status, report = healthz(monitored_bot)
        down = next(p for p in report["processes"] if p["name"] == "downloader-2")
        return report if status == 503 and report["status"] == "degraded" and down["pid"] != killed else None

    report = await until("/healthz degraded", degraded, 30, describe=monitored_bot.log)
    assert next(p for p in report["processes"] if p["name"] == "downloader-2")["state"] in ("backoff", "starting")
    back = await until(
        "/healthz ok again", lambda: healthy(monitored_bot), RESTART_DELAY_S + 60, describe=monitored_bot.log
    )
    again = next(p for p in back["processes"] if p["name"] == "downloader-2")
    assert again["pid"] not in (0, killed) and again["restarts"] >= 1


async def test_a_stopped_downloader_is_reported_stalled_and_then_resolved(monitored_bot, http):
    admin = Chat(http, ADMIN, monitored_bot)
    await admin.say("/start")  # admins must have opened the chat for the bot to write to them
    await until("/healthz ok", lambda: healthy(monitored_bot), 60, describe=monitored_bot.log)
    pid = next(p["pid"] for p in healthz(monitored_bot)[1]["processes"] if p["name"] == "downloader-1")
    stalled_text = text("en", "alert_process_stalled", name="downloader-1", seconds=0, kill_after=600)
    needle = stalled_text.split(" 0 s")[0]  # "⚠️ The downloader-1 process has sent no heartbeat for"
    before = len([m for m in await admin.bot_messages() if needle in (m.get("text") or "")])
    os.kill(pid, signal.SIGSTOP)
    try:
        stopped_at = trio.current_time()

        async def told() -> bool:
            return len([m for m in await admin.bot_messages() if needle in (m.get("text") or "")]) > before

        await until("the stall alert", told, HEARTBEAT_TIMEOUT_S + 30, describe=monitored_bot.log)
        took = trio.current_time() - stopped_at
        status, report = healthz(monitored_bot)
        assert status == 503 and report["status"] == "degraded"
        assert next(p for p in report["processes"] if p["name"] == "downloader-1")["state"] == "stalled"
        stall = next(a for a in report["alerts"] if a["kind"] == "stalled:downloader-1")
        assert stall["message"].startswith(needle) and stall["announced"], stall
    finally:
        os.kill(pid, signal.SIGCONT)
    resolved = text("en", "alert_process_stalled_ok", name="downloader-1")
    await admin.wait_text(resolved, timeout=30)
    assert took >= HEARTBEAT_TIMEOUT_S  # not before the timeout ...
    print(f"stall told {took:.1f} s after SIGSTOP (HEARTBEAT_TIMEOUT {HEARTBEAT_TIMEOUT_S:g} s)")
    await until("/healthz ok again", lambda: healthy(monitored_bot), 30, describe=monitored_bot.log)


async def test_metrics_parse_and_count_the_jobs_and_sends_made(monitored_bot, http):
    before = scrape(monitored_bot)
    done_before = total(before, "mediabot_jobs", "mediabot_jobs_total", outcome="done")
    uploads_before = total(before, "mediabot_upload_seconds", "mediabot_upload_seconds_count")
    chat = Chat(http, next(users), monitored_bot)
    await set_default(chat, "best")
    for n in range(3):
        await chat.say(f"{monitored_bot.url}/media/sample.mp4?metrics={n}")
    await chat.wait_files(3, timeout=120)

    async def counted() -> dict[str, Any] | None:  # the gateway and the uploader report apart
        families = scrape(monitored_bot)
        done = total(families, "mediabot_jobs", "mediabot_jobs_total", outcome="done")
        sent = total(families, "mediabot_upload_seconds", "mediabot_upload_seconds_count") - uploads_before
        return families if done >= done_before + 3 and sent >= 3 else None

    families = await until("3 more jobs done and uploads in /metrics", counted, 30, describe=monitored_bot.log)
    assert total(families, "mediabot_jobs", "mediabot_jobs_total", outcome="done") == done_before + 3
    uploads = total(families, "mediabot_upload_seconds", "mediabot_upload_seconds_count") - uploads_before
    assert uploads == 3
    jobs = families["mediabot_jobs"]
    assert jobs.type == "counter" and jobs.documentation
    assert {"process", "platform", "outcome"} <= set(jobs.samples[0].labels)
    assert families["mediabot_upload_seconds"].type == "histogram"
    for name in ("mediabot_sends", "mediabot_process_rss_bytes", "mediabot_disk_free_ratio", "mediabot_queue_jobs"):
        assert name in families, name
    rss = {s.labels["process"] for s in families["mediabot_process_rss_bytes"].samples if s.value > 0}
    assert {"gateway", "uploader", "downloader-1", "downloader-2", "monitor"} <= rss

    seen: list[object] = []

    async def sends_match() -> tuple[dict[str, float], dict[str, int]] | None:
        ours = {
            method: total(scrape(monitored_bot), "mediabot_sends", "mediabot_sends_total", method=method)
            for method in BOT_API_METHODS
        }
        stats = (await http.get("/sandbox/stats")).json()
        theirs = {m: sum(stats["requests"].get(api, 0) for api in apis) for m, apis in BOT_API_METHODS.items()}
        refused = sum(n for code, n in stats["responses"].items() if code != "200")  # e.g. an admin's closed chat
        seen[:] = [ours, theirs, stats["responses"]]
        matched = all(ours[m] <= theirs[m] for m in ours) and sum(ours.values()) == sum(theirs.values()) - refused
        return (ours, theirs) if matched else None

    # Every send the uploader counted is one the sandbox took; the calls it refused were not counted.
    ours, _ = await until("sends in /metrics = requests the sandbox saw", sends_match, 30, describe=lambda: repr(seen))
    assert ours["media"] >= 3 and ours["text"] >= 1


def crash_loop_bot(tmp_path_factory: pytest.TempPathFactory) -> BotProcess:
    env = {"ADMIN_IDS": str(ADMIN), "CRASH_LOOP_RESTARTS": "2", "CRASH_LOOP_WINDOW": "120", "RESTART_MIN_DELAY": "0.2"}
    return BotProcess(tmp_path_factory.mktemp("uploader-down"), env=env, workers=1)


async def test_an_uploader_that_crash_loops_is_reported_by_the_monitor_itself(tmp_path_factory):
    bot = crash_loop_bot(tmp_path_factory)
    try:
        async with httpx.AsyncClient(base_url=bot.url, timeout=HTTP_TIMEOUT_S) as client:
            admin = Chat(client, ADMIN, bot)
            await admin.say("/start")
            await admin.wait_text("Welcome")
            killed: set[int] = set()
            for _ in range(3):  # CRASH_LOOP_RESTARTS = 2: the third death is a crash loop

                async def running() -> int | None:
                    up = next(p for p in healthz(bot)[1]["processes"] if p["name"] == "uploader")
                    return up["pid"] if up["state"] == "ready" and up["pid"] not in killed else None

                pid = await until("an uploader running", running, 60, describe=bot.log)
                killed.add(pid)
                os.kill(pid, signal.SIGKILL)
            last_kill = trio.current_time()
            needle = "the uploader process keeps crashing"
            message = await admin.wait_text(needle, timeout=60)
            took = trio.current_time() - last_kill
            uploader = next(p for p in healthz(bot)[1]["processes"] if p["name"] == "uploader")
            assert uploader["state"] in ("cooling", "given-up") and uploader["pid"] == 0, uploader
            assert "monitor" in "".join(line for line in bot.log_lines() if "sent to admin" in line)
            assert healthz(bot)[1]["status"] == "degraded"
            print(f"the admin heard of the crash loop {took:.1f} s after the last crash: {message['text']!r}")
    finally:
        bot.stop()
