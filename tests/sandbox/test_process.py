"""`python -m sandbox` as its own process: the readiness line, a clean stop, the web page, and an
upload that streams to disk with flat memory."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import psutil
import trio

from tests.sandbox.support import TOKEN
from tests.support.paths import ROOT
from tests.support.sandbox import SandboxProcess

MIB = 1024 * 1024
UPLOAD_MIB = 64
MEMORY_GROWTH_LIMIT = 24 * MIB  # a buffered upload would grow by the upload's size
SAMPLE_EVERY_S = 0.02
STOP_DEADLINE_S = 5.0


def test_ready_line_then_nothing_else_and_sigterm_stops_it(sandbox_process: SandboxProcess):
    assert len(sandbox_process.lines) == 1
    match = re.fullmatch(r"SANDBOX_READY http://127\.0\.0\.1:(\d+)", sandbox_process.lines[0])
    assert match and int(match.group(1)) > 0
    assert httpx.get(f"{sandbox_process.url}/bot{TOKEN}/getMe").json()["ok"] is True
    sandbox_process.proc.send_signal(signal.SIGTERM)
    assert sandbox_process.proc.wait(STOP_DEADLINE_S) == 0
    assert sandbox_process.more_stdout(1.0) == []
    assert "Traceback" not in sandbox_process.stderr()


def test_web_page_and_static_files(sandbox_process: SandboxProcess):
    page = httpx.get(f"{sandbox_process.url}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()
    if "/static/app.js" in page.text:
        script = httpx.get(f"{sandbox_process.url}/static/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]


async def _multipart(boundary: str, total: int, digest: hashlib._Hash) -> AsyncIterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="document"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    block = os.urandom(MIB)
    for i in range(total // MIB):
        chunk = block[i % 251 :] + block[: i % 251]  # every MiB different
        digest.update(chunk)
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


async def test_a_big_upload_streams_to_disk_with_flat_memory(sandbox_process: SandboxProcess):
    server = psutil.Process(sandbox_process.proc.pid)
    boundary = "sandbox-test-boundary"
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    url = f"/bot{TOKEN}/sendDocument"
    async with httpx.AsyncClient(base_url=sandbox_process.url, timeout=60) as http:
        await http.post("/sandbox/users/1/messages", json={"text": "hi"})
        warm = await http.post(url, content=_multipart(boundary, MIB, hashlib.sha256()), headers=headers)
        assert warm.status_code == 200, warm.text
        baseline = server.memory_info().rss
        peak = baseline
        digest = hashlib.sha256()

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, server.memory_info().rss)
                await trio.sleep(SAMPLE_EVERY_S)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sample)
            resp = await http.post(url, content=_multipart(boundary, UPLOAD_MIB * MIB, digest), headers=headers)
            nursery.cancel_scope.cancel()
        assert resp.status_code == 200, resp.text
        assert resp.json()["result"]["document"]["file_size"] == UPLOAD_MIB * MIB
        assert peak - baseline < MEMORY_GROWTH_LIMIT, f"memory grew {(peak - baseline) / MIB:.1f} MiB"
        media = (await http.get("/sandbox/users/1/chat")).json()["messages"][-1]["media"]
        assert media["sha256"] == digest.hexdigest()
        served = hashlib.sha256()
        async with http.stream("GET", media["url"]) as stream:
            async for chunk in stream.aiter_bytes():
                served.update(chunk)
        assert served.hexdigest() == digest.hexdigest()
        stats = (await http.get("/sandbox/stats")).json()
        assert stats["bytes_uploaded"] == (UPLOAD_MIB + 1) * MIB


def test_a_taken_port_is_a_clear_error(tmp_path, sample_media):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "sandbox", "--port", str(port), "--data-dir", str(tmp_path)]
        done = subprocess.run(
            [*argv, "--media-dir", str(sample_media)], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1 and done.stdout == ""
    assert "cannot serve: [Errno 98] Address already in use" in done.stderr
    assert "Traceback" not in done.stderr
