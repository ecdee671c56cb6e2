"""Downloader hosts that join the main host (issue 18), each a network namespace with its own
address on a veth bridge, its own DATA_DIR and keys: real `run.py --join` processes, real links
cut with `ip link set down`. Needs root and iproute2; skipped with the reason elsewhere.

Three clusters: `three` (the main host with a downloader of its own, and h1, h2) for spreading,
refusing and rolling restarts; `killed`, shaped the same, for the main host restarted under its
joined hosts (its gateway killed, the whole of it stopped); `remote` (the main host with no
downloader, and h1, h2) where every job runs on a joined host, for cut and flapping links and a
big file.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest

from core.texts import text
from tests.scale.cluster import Cluster, JoinedHost, netns_unavailable
from tests.support.bot import BotProcess, Chat
from tests.support.journey import settled
from tests.support.poll import until

REASON = netns_unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"downloader hosts in namespaces: {REASON}")

SETTLE_S = 180.0
ADMIN = 4242
PERSIAN_ADMIN = 4243  # an admin of its own: the language a chat first speaks stays its language
MIB = 1024 * 1024
HELD = ("probing", "downloading")


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with Cluster(tmp_path_factory.mktemp("three"), hosts=2, workers=1) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def killed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # The main host restarted under the joined hosts: its gateway killed, the whole of it stopped.
    with Cluster(tmp_path_factory.mktemp("killed"), hosts=2, workers=1) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # A flap shorter than HEARTBEAT_TIMEOUT keeps the jobs; the link itself notices in 1.5 s.
    with Cluster(tmp_path_factory.mktemp("remote"), hosts=2, workers=0, env={"HEARTBEAT_TIMEOUT": "8"}) as cluster:
        yield cluster


def main_bot(cluster: Cluster) -> BotProcess:
    assert cluster.bot is not None
    return cluster.bot


def blob(bot: BotProcess, tag: str, size: int, delay_ms: int = 0) -> str:
    """A plain file of `size` bytes (fetched in the probe's stride, no question asked)."""
    return f"{bot.url}/media/blob?size={size}&delay_ms={delay_ms}&t={tag}-{time.time_ns()}"


def jobs_of(bot: BotProcess, user_id: int) -> list[dict[str, Any]]:
    return bot.rows("SELECT id, state, worker, lease FROM jobs WHERE user_id = ? ORDER BY id", user_id)


def health(bot: BotProcess) -> dict[str, Any]:
    url = f"http://127.0.0.1:{bot.monitor_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return dict(json.load(response))
    except urllib.error.HTTPError as exc:
        return dict(json.load(exc))


def host_state(bot: BotProcess, name: str) -> str | None:
    return next((h["state"] for h in health(bot).get("hosts", []) if h["name"] == name), None)


async def send_all(http: httpx.AsyncClient, bot: BotProcess, users: list[int], links: list[str]) -> list[int]:
    sent = []
    for user, url in zip(users, links, strict=True):
        sent.append(await Chat(http, user, bot).say(url))
    return sent


async def all_settled(bot: BotProcess, users: list[int], sent: list[int]) -> None:
    for user, message in zip(users, sent, strict=True):
        await settled(bot, user, last_message=message, timeout=SETTLE_S)


async def files_per_chat(http: httpx.AsyncClient, bot: BotProcess, users: list[int]) -> dict[int, int]:
    return {user: len(await Chat(http, user, bot).files()) for user in users}


async def held_by(bot: BotProcess, users: list[int], workers: tuple[str, ...]) -> dict[str, Any]:
    """Wait for a job of `users` on one of `workers`, in a downloader's hands."""

    def found() -> dict[str, Any] | None:
        for user in users:
            for job in jobs_of(bot, user):
                if job["worker"] in workers and job["state"] in HELD:
                    return job
        return None

    return await until(f"a job held by one of {workers}", found, SETTLE_S, describe=bot.log)


def downloader(host: str) -> str:
    return f"downloader-1@{host}"


async def spread_over_all_three(bot: BotProcess, users: list[int], tag: str) -> None:
    """At least as many slow jobs as the three hosts have slots: each host's downloader must take some."""
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        sent = await send_all(http, bot, users, [blob(bot, f"{tag}{u}", 300_000, 3000) for u in users])
        await all_settled(bot, users, sent)
        assert await files_per_chat(http, bot, users) == dict.fromkeys(users, 1)
    workers = {job["worker"] for user in users for job in jobs_of(bot, user)}
    assert {"downloader-1", downloader("h1"), downloader("h2")} <= workers, workers


# ---- the main host and two joined hosts ------------------------------------------------------


async def test_two_hosts_join_and_jobs_spread_over_all_three(three: Cluster) -> None:
    bot = main_bot(three)
    users = list(range(71001, 71009))
    await spread_over_all_three(bot, users, "spread")
    # The hosts share this machine's disk, so the uploader could read their spools: it must not
    # have had to. Every file it sent was in the main host's own spool.
    spool = str(bot.data_dir / "spool")
    paths = [row[0] for user in users for row in bot.query("SELECT file_path FROM jobs WHERE user_id = ?", user)]
    assert paths and all(path.startswith(spool) for path in paths), paths
    report = health(bot)
    assert {h["name"]: h["state"] for h in report["hosts"]} == {"h1": "joined", "h2": "joined"}
    names = {p["name"]: p["state"] for p in report["processes"]}
    assert names[downloader("h1")] == names[downloader("h2")] == "ready"
    assert names["supervisor@h1"] == "ready"
    # The admins' /health in Telegram lists the same hosts, each with its processes under it.
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        admin = Chat(http, PERSIAN_ADMIN, bot, lang="fa")
        await admin.say("/health")
        shown = (await admin.wait_text("🖧 میزبان‌های دانلود:"))["text"]
    for host in ("h1", "h2"):
        assert f"✅ {host}: متصل، ۱ دانلودکننده، آخرین خبر" in shown, shown
        assert f"\n    ✅ {downloader(host)}: آماده" in shown, shown


async def test_a_host_with_an_unknown_key_is_refused(three: Cluster) -> None:
    bot = main_bot(three)
    stranger = three.add_host("stranger", authorize=False)
    with pytest.raises(AssertionError, match="exited"):
        stranger.start(READY_TIMEOUT="4")
    assert stranger.proc is not None and stranger.proc.returncode == 1
    assert "did not answer" in stranger.log()
    refusals = [line for line in bot.log_lines() if f"refused a host from {stranger.address}" in line]
    assert len(refusals) == 1, refusals
    assert host_state(bot, "stranger") is None


async def test_a_rolling_sigterm_of_a_host_loses_nothing(three: Cluster) -> None:
    bot = main_bot(three)
    h1 = three.hosts["h1"]
    users = list(range(72001, 72007))
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        admin = Chat(http, ADMIN, bot)
        await settled(bot, ADMIN, last_message=await admin.say("/start"))  # alerts reach a chat that exists
        sent = await send_all(http, bot, users, [blob(bot, f"roll{u}", 500_000, 3000) for u in users])
        await held_by(bot, users, (downloader("h1"),))
        assert h1.stop() == 0  # drained: its jobs handed back, the supervisor exits cleanly
        await all_settled(bot, users, sent)
        assert await files_per_chat(http, bot, users) == dict.fromkeys(users, 1)
        assert all(job["state"] == "done" for user in users for job in jobs_of(bot, user))
        await until("h1 reported as gone", lambda: host_state(bot, "h1") == "left", 30)
        h1.start()
        await until("h1 back", lambda: host_state(bot, "h1") == "joined", 60)
        await admin.wait_text(text("en", "alert_host_left", host="h1"))
        await admin.wait_text(text("en", "alert_host_back", host="h1", workers=1))


async def test_kill_9_of_the_gateway_while_hosts_work_answers_every_job_once(killed: Cluster) -> None:
    bot = main_bot(killed)
    users = list(range(73001, 73007))
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        sent = await send_all(http, bot, users, [blob(bot, f"kill{u}", 4 * MIB, 2000) for u in users])
        await held_by(bot, users, (downloader("h1"), downloader("h2")))
        gateway = bot.kill("gateway")
        await all_settled(bot, users, sent)
        assert await files_per_chat(http, bot, users) == dict.fromkeys(users, 1)
        assert all(job["state"] == "done" for user in users for job in jobs_of(bot, user))
        assert bot.processes()["gateway"]["pid"] != gateway


async def test_after_a_kill_9_of_the_gateway_the_joined_hosts_get_jobs_again(killed: Cluster) -> None:
    bot = main_bot(killed)
    gateway = bot.kill("gateway")
    await until("the gateway restarted", lambda: restarted(bot, "gateway", gateway), SETTLE_S, describe=bot.log)
    await spread_over_all_three(bot, list(range(73101, 73107)), "again")


async def test_after_the_whole_main_host_restarts_the_joined_hosts_get_jobs_again(killed: Cluster) -> None:
    bot = killed.restart_main()
    await spread_over_all_three(bot, list(range(73201, 73207)), "restart")


def restarted(bot: BotProcess, name: str, old_pid: int) -> bool:
    process = bot.processes().get(name, {})
    return process.get("pid") not in (None, old_pid) and process.get("state") == "ready"


# ---- every download on a joined host ---------------------------------------------------------


def holder(cluster: Cluster, job: dict[str, Any]) -> JoinedHost:
    return cluster.hosts[str(job["worker"]).split("@", 1)[1]]


async def test_a_host_whose_link_is_cut_mid_download_loses_the_job_to_another(remote: Cluster) -> None:
    bot = main_bot(remote)
    user = 74001
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        (sent,) = await send_all(http, bot, [user], [blob(bot, "cut", 300_000, 6000)])
        job = await held_by(bot, [user], (downloader("h1"), downloader("h2")))
        cut = holder(remote, job)
        cut.cut()
        try:
            await settled(bot, user, last_message=sent, timeout=SETTLE_S)
            (done,) = jobs_of(bot, user)
            assert done["state"] == "done" and done["worker"] != job["worker"] and done["lease"] > job["lease"]
        finally:
            cut.mend()
        await until(f"{cut.name} back", lambda: host_state(bot, cut.name) == "joined", 60)

        # The old attempt ends on its host: stopped by the gateway's cancel, or its report (a failure,
        # a download, a file) answered as one of a job that moved on.
        def old_attempt_over() -> bool:
            stopped = any(f"job {job['id']} stopped" in line for line in cut.log_lines())
            mine = [line for line in bot.log_lines() if f"job {job['id']}:" in line]
            return stopped or any("moved on" in line or "no longer the job's" in line for line in mine)

        await until(f"job {job['id']}'s old attempt over on {cut.name}", old_attempt_over, 60, describe=cut.log)
        assert await files_per_chat(http, bot, [user]) == {user: 1}


def shaped(host: JoinedHost, rate: str) -> None:
    """Slow the host's way home (its end of the link sends at `rate`), so a file streams for a while."""
    inner = host.veth[:-1] + "b"
    subprocess.run(
        ["ip", "netns", "exec", host.namespace, "tc", "qdisc", "replace", "dev", inner, "root", "tbf",
         "rate", rate, "burst", "64kb", "latency", "200ms"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


async def test_a_host_whose_link_flaps_mid_stream_resumes_and_delivers_once(remote: Cluster) -> None:
    bot = main_bot(remote)
    user = 75001
    for host in remote.hosts.values():
        shaped(host, "40mbit")
    size = 24 * MIB
    async with httpx.AsyncClient(base_url=bot.url, timeout=30) as http:
        (sent,) = await send_all(http, bot, [user], [blob(bot, "flap", size)])
        job = await held_by(bot, [user], (downloader("h1"), downloader("h2")))
        part = bot.data_dir / "spool" / f"{job['id']}-{job['lease']}"

        def streaming() -> bool:
            return any(p.stat().st_size > 2 * MIB for p in part.glob("*.part")) if part.is_dir() else False

        await until("the file half way home", streaming, SETTLE_S, describe=bot.log)
        flapping = holder(remote, job)
        seen = len(flapping.log_lines())  # the cluster is shared: an earlier test's drop is no sign
        flapping.cut()
        try:
            await until(
                "the host to notice the cut",
                lambda: any("link to the gateway dropped" in line for line in flapping.log_lines()[seen:]),
                30,
                describe=flapping.log,
            )
        finally:
            flapping.mend()
        await settled(bot, user, last_message=sent, timeout=SETTLE_S)
        assert await files_per_chat(http, bot, [user]) == {user: 1}
    (done,) = jobs_of(bot, user)
    assert done["lease"] == job["lease"] and done["worker"] == job["worker"]  # the same attempt went on
    resumed = [line for line in bot.log_lines() if f"job {job['id']}:" in line and "goes on from" in line]
    assert resumed, "the stream did not resume"


class Peaks:
    """RSS of some processes every 0.1 s, in a thread, while the block runs (a measurement)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.before = {name: p.memory_info().rss for name, p in self.procs.items()}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for name, proc in self.procs.items():
                try:
                    self.peak[name] = max(self.peak[name], proc.memory_info().rss)
                except psutil.Error:
                    pass

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def growth(self) -> dict[str, int]:
        return {name: self.peak[name] - self.before[name] for name in self.procs}


FLAT_MEMORY_BYTES = 48 * MIB  # what the stream may add to either side, whatever the file's size


@pytest.mark.parametrize(
    "size", [pytest.param(128 * MIB, id="128MiB"), pytest.param(1024 * MIB, id="1GiB", marks=pytest.mark.slow)]
)
async def test_a_big_file_streams_home_with_flat_memory(remote: Cluster, size: int) -> None:
    bot = main_bot(remote)
    for host in remote.hosts.values():
        shaped(host, "10gbit")  # as fast as the link goes
    user = 76001 + size // MIB
    processes = {p["name"]: p["pid"] for p in health(bot)["processes"]}
    watched = {name: processes[name] for name in ("gateway", downloader("h1"), downloader("h2"))}
    async with httpx.AsyncClient(base_url=bot.url, timeout=60) as http:
        with Peaks(watched) as peaks:
            (sent,) = await send_all(http, bot, [user], [blob(bot, f"big{size}", size)])
            await settled(bot, user, last_message=sent, timeout=SETTLE_S * 3)
        files = await Chat(http, user, bot).files()
    assert len(files) == 1
    growth = peaks.growth()
    assert all(grown < FLAT_MEMORY_BYTES for grown in growth.values()), growth
    (done,) = jobs_of(bot, user)
    assert done["worker"].startswith("downloader-1@")
