"""Media routes that fail like video sites: error statuses, a flaky file, a cut download, redirects."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
import yt_dlp

from tests.sandbox.support import Api, ytdlp

YTDLP_DEADLINE_S = 60.0


@pytest.mark.parametrize("code", [403, 404, 410, 429, 451, 500])
async def test_status_answers_the_code_with_an_error_page(http: httpx.AsyncClient, code: int):
    page = await http.get("/media/status", params={"code": code})
    assert page.status_code == code and page.headers["content-type"].startswith("text/html")
    assert f"<h1>{code} " in page.text
    as_json = await http.get("/media/status", params={"code": code, "format": "json"})
    assert as_json.status_code == code and as_json.json()["error"]["code"] == code
    assert ("retry-after" in page.headers) == (code == 429)
    if code == 429:
        assert int(page.headers["retry-after"]) > 0 and int(as_json.headers["retry-after"]) > 0


async def test_status_refuses_other_codes(http: httpx.AsyncClient):
    for code in ("200", "302", "503", "abc", ""):
        resp = await http.get("/media/status", params={"code": code})
        assert resp.status_code == 400 and resp.json()["ok"] is False, code


async def test_ytdlp_sees_the_status(sandbox_url: str):
    with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 410"):
        await trio.to_thread.run_sync(partial(ytdlp, f"{sandbox_url}/media/status?code=410"))


async def test_flaky_fails_k_times_per_key_then_serves_the_sample(
    http: httpx.AsyncClient, api: Api, sample_media: Path
):
    sample = (sample_media / "sample.mp4").read_bytes()
    codes = [(await http.get("/media/flaky", params={"fail": 2, "key": "a"})).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    other = await http.get("/media/flaky", params={"fail": 1, "key": "b"})
    assert other.status_code == 503  # another key counts on its own
    served = await http.get("/media/flaky", params={"fail": 2, "key": "a"})
    assert served.content == sample and served.headers["content-type"] == "video/mp4"
    ranged = await http.get("/media/flaky", params={"fail": 2, "key": "a"}, headers={"Range": "bytes=0-9"})
    assert (ranged.status_code, ranged.content) == (206, sample[:10])
    assert (await api.stats())["media_requests"]["/media/flaky"] == 6
    assert (await http.post("/sandbox/reset")).status_code == 200
    assert (await http.get("/media/flaky", params={"fail": 1, "key": "a"})).status_code == 503
    assert (await http.get("/media/flaky", params={"fail": "x"})).status_code == 400


async def test_ytdlp_downloads_through_flaky_once_it_recovers(sandbox_url: str, tmp_path: Path, sample_media: Path):
    url = f"{sandbox_url}/media/flaky?fail=1&key=ytdlp"
    with trio.fail_after(YTDLP_DEADLINE_S):
        with pytest.raises(yt_dlp.utils.DownloadError, match="HTTP Error 503"):
            await trio.to_thread.run_sync(partial(ytdlp, url, tmp_path / "dl"))
        await trio.to_thread.run_sync(partial(ytdlp, url, tmp_path / "dl"))
    [got] = list((tmp_path / "dl").iterdir())
    assert got.read_bytes() == (sample_media / "sample.mp4").read_bytes()


async def test_drop_promises_the_whole_sample_and_cuts_after_b_bytes(http: httpx.AsyncClient, sample_media: Path):
    sample = (sample_media / "sample.mp4").read_bytes()
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("GET", "/media/drop", params={"after": 10_000}) as resp:
            assert (resp.status_code, int(resp.headers["content-length"])) == (200, len(sample))
            async for chunk in resp.aiter_raw():
                received += chunk
    assert bytes(received) == sample[:10_000]
    head = await http.head("/media/drop", params={"after": 5})
    assert int(head.headers["content-length"]) == len(sample)
    for bad in ("-1", str(len(sample)), "x"):
        assert (await http.get("/media/drop", params={"after": bad})).status_code == 400
    assert (await http.get("/media/sample.mp4")).status_code == 200  # the sandbox serves on


async def test_ytdlp_fails_on_a_download_that_is_always_cut(sandbox_url: str, tmp_path: Path):
    with trio.fail_after(YTDLP_DEADLINE_S), pytest.raises(yt_dlp.utils.DownloadError):
        await trio.to_thread.run_sync(
            partial(ytdlp, f"{sandbox_url}/media/drop?after=1000", tmp_path / "dl", retries=1, fragment_retries=1)
        )


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirect_with_each_code(http: httpx.AsyncClient, code: int):
    resp = await http.get("/media/redirect", params={"to": "/media/blob?size=3", "code": code})
    assert (resp.status_code, resp.headers["location"]) == (code, "/media/blob?size=3")
    followed = await http.get(
        "/media/redirect", params={"to": "/media/blob?size=3", "code": code}, follow_redirects=True
    )
    assert len(followed.content) == 3


async def test_redirect_defaults_to_302_and_refuses_other_codes(http: httpx.AsyncClient):
    assert (await http.get("/media/redirect", params={"to": "/media/x"})).status_code == 302
    for code in ("200", "304", "x"):
        assert (await http.get("/media/redirect", params={"to": "/media/x", "code": code})).status_code == 400


async def test_stall_goes_silent_after_some_bytes_for_its_first_requests_then_serves(http: httpx.AsyncClient):
    whole = (await http.get("/media/sample.mp4")).content
    params: dict[str, str | int] = {"after": 1000, "key": "stall-test", "times": 1}
    async with http.stream("GET", "/media/stall", params=params) as first:
        assert first.headers["content-length"] == str(len(whole))
        got = b""
        with trio.move_on_after(2) as silent:
            async for chunk in first.aiter_bytes():
                got += chunk
        assert silent.cancelled_caught and got == whole[:1000]  # then nothing: a stall
    second = await http.get("/media/stall", params=params)
    assert second.status_code == 200 and second.content == whole


async def test_stream_has_no_length_until_its_end(http: httpx.AsyncClient):
    async with http.stream("GET", "/media/stream", params={"size": 300_000}) as resp:
        assert "content-length" not in resp.headers and resp.headers["transfer-encoding"] == "chunked"
        body = b"".join([chunk async for chunk in resp.aiter_bytes()])
    assert len(body) == 300_000


async def test_cookie_serves_only_a_request_with_the_cookie(http: httpx.AsyncClient):
    params = {"name": "session", "value": "s3cret"}
    refused = await http.get("/media/cookie", params=params)
    assert refused.status_code == 401 and "Sign in" in refused.text
    served = await http.get("/media/cookie", params=params, headers={"cookie": "session=s3cret"})
    assert served.status_code == 200 and served.headers["content-type"] == "video/mp4"
