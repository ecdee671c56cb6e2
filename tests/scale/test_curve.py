"""The CURVE link between hosts (Ironhouse), over loopback with real ZeroMQ sockets: only a host
whose key is in `authorized/` gets jobs, a refused host is logged once with its address, the
keys are made as the README says, and the main host will not listen on tcp:// without keys."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import pytest
import trio

from core.config import Settings, load_settings
from ipc.channels import JobDispatcher, JobWorker, open_job_dispatcher, open_job_worker
from ipc.curve import AUTHORIZED, HOST_KEY, Authenticator, client_options, load_keys, make_keys, server_options
from ipc.hosts import open_listener
from ipc.messages import JobAssign
from tests.support.paths import RUN_PY
from tests.support.poll import until

DEADLINE = 20.0
BEAT_MS, TIMEOUT_MS = 200, 1000


def job(job_id: int) -> JobAssign:
    return JobAssign(
        job_id=job_id,
        lease=1,
        task="download",
        url="http://example.test/a",
        chat_id=1,
        user_id=1,
        format_key="file",
        attempt=1,
    )


@asynccontextmanager
async def main_host(tmp_path: Path) -> AsyncIterator[tuple[JobDispatcher, Authenticator]]:
    curve = tmp_path / "main"
    make_keys(curve)
    auth = Authenticator(curve)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(auth.serve)
            options = server_options(load_keys(curve), BEAT_MS, TIMEOUT_MS)
            async with open_job_dispatcher(
                f"ipc://{tmp_path}/jobs.sock", listen="tcp://127.0.0.1:0", listen_options=options
            ) as jobs:
                yield jobs, auth
            nursery.cancel_scope.cancel()
    finally:
        auth.close()


def joining_host(tmp_path: Path, name: str, *, authorize: bool) -> dict[str, int | bytes]:
    curve = tmp_path / name
    make_keys(curve)
    if authorize:
        shutil.copy(curve / HOST_KEY, tmp_path / "main" / AUTHORIZED / f"{name}.key")
    return client_options(load_keys(curve), load_keys(tmp_path / "main").public, BEAT_MS, TIMEOUT_MS)


async def test_a_host_with_an_authorized_key_gets_jobs(tmp_path: Path) -> None:
    async with main_host(tmp_path) as (jobs, auth):
        options = joining_host(tmp_path, "h1", authorize=True)
        async with open_job_worker("downloader-1@h1", jobs.listening, options=options) as worker:
            with trio.fail_after(DEADLINE):
                async with trio.open_nursery() as nursery:
                    got: list[JobAssign] = []

                    async def take() -> None:
                        got.append(await worker.next_job())

                    nursery.start_soon(take)
                    taker = await jobs.dispatch(job(7))
            assert taker.name == "downloader-1@h1"
            assert [j.job_id for j in got] == [7]
            assert auth.accepted_total >= 1


async def test_a_host_with_an_unknown_key_is_refused_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ipc.curve")
    async with main_host(tmp_path) as (jobs, auth):
        options = joining_host(tmp_path, "stranger", authorize=False)
        for attempt in (1, 2):  # two connections, each refused: one log line for the pair
            async with (
                open_job_worker("downloader-1@stranger", jobs.listening, options=options) as worker,
                trio.open_nursery() as nursery,
            ):
                nursery.start_soon(worker.next_job)  # it asks for a job: the credit never gets in
                await until(f"refusal {attempt}", lambda n=attempt: auth.refused_total >= n, DEADLINE)  # type: ignore[misc]
                assert jobs.free_slots() == 0
                assert not worker.linked
                nursery.cancel_scope.cancel()
    refusals = [r.getMessage() for r in caplog.records if "refused a host" in r.getMessage()]
    assert len(refusals) == 1, refusals
    assert "from 127.0.0.1" in refusals[0]
    assert load_keys(tmp_path / "stranger").public.decode() in refusals[0]


async def test_a_client_without_curve_is_refused(tmp_path: Path) -> None:
    async with (
        main_host(tmp_path) as (jobs, _auth),
        open_job_worker("plain", jobs.listening) as worker,  # no keys at all
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(worker.next_job)
        # The handshake fails before any message: the dispatcher's ipc:// side still works.
        async with open_job_worker("local", f"ipc://{tmp_path}/jobs.sock") as local:
            nursery.start_soon(local.next_job)
            with trio.fail_after(DEADLINE):
                taker = await jobs.dispatch(job(1))
        assert taker.name == "local"
        assert jobs.free_slots() == 0 and not worker.linked
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[JobDispatcher]:
    """One incarnation of the gateway's job channel, wired as `gateway.main` wires it."""
    async with (
        open_listener(settings, lambda msg: True) as listener,
        open_job_dispatcher(
            f"ipc://{settings.run_dir}/jobs.sock",
            listen=settings.job_listen,
            listen_options=listener.options if listener else None,
            listen_first=listener.listen_first if listener else "",
        ) as jobs,
        trio.open_nursery() as nursery,
    ):
        assert listener is not None
        await nursery.start(listener.serve, jobs, lambda job_id: 1)
        yield jobs
        nursery.cancel_scope.cancel()


async def take_one(jobs: JobDispatcher, worker: JobWorker, job_id: int) -> str:
    """Dispatch a job and wait until the worker has it; returns the taker's name."""
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            got: list[int] = []

            async def take() -> None:
                got.append((await worker.next_job()).job_id)

            nursery.start_soon(take)
            taker = await jobs.dispatch(job(job_id))
    assert got == [job_id]
    return taker.name


def port_of_endpoint(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def listening_on(port: int) -> bool:
    return any(c.laddr.port == port for c in psutil.Process().net_connections("tcp") if c.status == psutil.CONN_LISTEN)


async def test_a_restarted_gateway_listens_where_its_joined_hosts_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # JOB_LISTEN with port 0: a joined host knows the port the first gateway took; the next one
    # (after a kill -9, or a restart of the whole main host) must take it again, or the host is
    # left out for good. A port taken meanwhile by something else: another one, and a warning.
    data = tmp_path / "data"
    make_keys(data / "curve")
    settings = load_settings(environ={"DATA_DIR": str(data), "JOB_LISTEN": "tcp://127.0.0.1:0"}, env_file=None)
    settings.run_dir.mkdir(parents=True)
    curve = tmp_path / "h1"
    make_keys(curve)
    shutil.copy(curve / HOST_KEY, data / "curve" / AUTHORIZED / "h1.key")
    options = client_options(load_keys(curve), load_keys(data / "curve").public, BEAT_MS, TIMEOUT_MS)
    async with gateway(settings) as jobs:
        first = jobs.listening
        assert listening_on(port_of_endpoint(first))
        async with open_job_worker("downloader-1@h1", first, options=options) as worker:
            assert await take_one(jobs, worker, 1) == "downloader-1@h1"
    # A killed gateway's port is free at once; a closed socket's listener goes in ZeroMQ's own
    # thread a little later, so wait for that as the kill's stand-in.
    await until("the first gateway's port let go", lambda: not listening_on(port_of_endpoint(first)), DEADLINE)
    async with open_job_worker("downloader-1@h1", first, options=options) as worker, gateway(settings) as jobs:
        assert jobs.listening == first
        assert await take_one(jobs, worker, 2) == "downloader-1@h1"
    with socket.create_server(("127.0.0.1", port_of_endpoint(first))):
        async with gateway(settings) as jobs:
            assert jobs.listening != first
    assert any("is taken; listening on another port" in r.getMessage() for r in caplog.records)


def test_keys_are_made_as_zmq_auth_writes_them_and_never_overwritten(tmp_path: Path) -> None:
    public = make_keys(tmp_path / "curve")
    secret = public.with_name(HOST_KEY + "_secret")
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "secret-key" not in public.read_text() and "secret-key" in secret.read_text()
    assert (tmp_path / "curve" / AUTHORIZED).is_dir()
    before = secret.read_bytes()
    with pytest.raises(FileExistsError):
        make_keys(tmp_path / "curve")
    assert secret.read_bytes() == before


def test_the_main_host_refuses_to_listen_without_keys(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "JOB_LISTEN": "tcp://127.0.0.1:0", "LOG_LEVEL": "info"}
    argv = [sys.executable, str(RUN_PY), "--sandbox", "--sandbox-port", "0", "--data-dir", str(tmp_path / "data")]
    # Its own session: were the check broken, the bot it started goes with the test, whatever happens.
    proc = subprocess.Popen(
        argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 2, out + err
    assert "JOB_LISTEN" in err and "run.py keys" in err


def test_keys_command_makes_the_pair(tmp_path: Path) -> None:
    argv = [sys.executable, str(RUN_PY), "keys", "--data-dir", str(tmp_path / "data")]
    env = {"PATH": "/usr/bin:/bin", "HOST_NAME": "dl-2"}
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "curve" / "host.key_secret").is_file()
    assert "dl-2" in done.stdout and "authorized" in done.stdout
    again = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already exists" in again.stdout
