"""sendVideo / sendAudio / sendDocument / sendPhoto: uploads streamed to disk, file_id re-sends,
thumbnails, metadata, the upload caps, and the stored file served back with Range."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import trio

from tests.sandbox.support import TOKEN, Api

MIB = 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _user(api: Api, user_id: int = 1) -> None:
    await api.config(limits=False)
    await api.say(user_id, "send me the video")


async def test_send_video_with_thumbnail_and_metadata(api: Api, http: httpx.AsyncClient, sample_media: Path):
    await _user(api)
    video, thumb = (sample_media / "sample.mp4").read_bytes(), (sample_media / "thumb.jpg").read_bytes()
    msg = await api.ok(
        "sendVideo",
        files={"video": ("clip.mp4", video, "video/mp4"), "thumbpart": ("t.jpg", thumb, "image/jpeg")},
        chat_id=1,
        caption="<b>Clip</b>",
        parse_mode="HTML",
        duration=4,
        width=320,
        height=240,
        supports_streaming=True,
        thumbnail="attach://thumbpart",
    )
    assert set(msg) == {"message_id", "from", "chat", "date", "video", "caption", "caption_entities"}
    assert (msg["caption"], msg["caption_entities"]) == ("Clip", [{"type": "bold", "offset": 0, "length": 4}])
    v = msg["video"]
    assert set(v) == {
        "file_id",
        "file_unique_id",
        "width",
        "height",
        "duration",
        "thumbnail",
        "file_name",
        "mime_type",
        "file_size",
    }
    assert (v["width"], v["height"], v["duration"], v["file_name"], v["mime_type"], v["file_size"]) == (
        320,
        240,
        4,
        "clip.mp4",
        "video/mp4",
        len(video),
    )
    assert set(v["thumbnail"]) == {"file_id", "file_unique_id", "width", "height", "file_size"}
    assert (v["thumbnail"]["width"], v["thumbnail"]["height"], v["thumbnail"]["file_size"]) == (160, 120, len(thumb))
    media = (await api.chat(1))["messages"][-1]["media"]
    assert (media["kind"], media["file_id"], media["size"], media["sha256"]) == (
        "video",
        v["file_id"],
        len(video),
        _sha(video),
    )
    assert media["has_thumbnail"] is True and (media["duration"], media["width"], media["height"]) == (4, 320, 240)
    served = await http.get(media["url"])
    assert served.status_code == 200 and _sha(served.content) == _sha(video)
    assert served.headers["content-type"] == "video/mp4"
    part = await http.get(media["url"], headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content, part.headers["content-range"]) == (
        206,
        video[10:20],
        f"bytes 10-19/{len(video)}",
    )


async def test_missing_metadata_is_found_in_the_file(api: Api, sample_media: Path):
    await _user(api)
    msg = await api.ok(
        "sendVideo", files={"video": ("s.mp4", (sample_media / "sample.mp4").read_bytes(), "video/mp4")}, chat_id=1
    )
    assert (msg["video"]["duration"], msg["video"]["width"], msg["video"]["height"]) == (4, 320, 240)
    assert "thumbnail" not in msg["video"] and "caption" not in msg


async def test_resend_by_file_id(api: Api, sample_media: Path):
    await _user(api)
    await api.say(2, "me too")
    first = (
        await api.ok(
            "sendVideo", files={"video": ("s.mp4", (sample_media / "sample.mp4").read_bytes(), "video/mp4")}, chat_id=1
        )
    )["video"]
    again = (await api.ok("sendVideo", chat_id=2, video=first["file_id"], caption="again"))["video"]
    assert again == first
    assert (await api.stats())["bytes_uploaded"] == (sample_media / "sample.mp4").stat().st_size
    assert await api.fails("sendAudio", chat_id=2, audio=first["file_id"]) == (
        400,
        "Bad Request: can't use file of type Video as Audio",
    )
    assert await api.fails("sendVideo", chat_id=2, video="BAACnot-a-real-id") == (
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )
    assert await api.fails("sendVideo", chat_id=2) == (400, "Bad Request: there is no video in the request")


async def test_audio_document_and_photo_shapes(api: Api, sample_media: Path):
    await _user(api)
    audio = (sample_media / "audio.m4a").read_bytes()
    a = (
        await api.ok(
            "sendAudio", files={"audio": ("song.m4a", audio, "audio/mp4")}, chat_id=1, title="Song", performer="Band"
        )
    )["audio"]
    assert set(a) == {
        "file_id",
        "file_unique_id",
        "duration",
        "performer",
        "title",
        "file_name",
        "mime_type",
        "file_size",
    }
    assert (a["duration"], a["title"], a["performer"], a["file_size"]) == (4, "Song", "Band", len(audio))
    d = (await api.ok("sendDocument", files={"document": ("notes.txt", b"hello", "text/plain")}, chat_id=1))["document"]
    assert d == {
        **{k: d[k] for k in ("file_id", "file_unique_id")},
        "file_name": "notes.txt",
        "mime_type": "text/plain",
        "file_size": 5,
    }
    thumb = (sample_media / "thumb.jpg").read_bytes()
    photo = (await api.ok("sendPhoto", files={"photo": ("p.jpg", thumb, "image/jpeg")}, chat_id=1))["photo"]
    assert isinstance(photo, list) and len(photo) >= 1
    assert set(photo[-1]) == {"file_id", "file_unique_id", "width", "height", "file_size"}
    assert (photo[-1]["width"], photo[-1]["height"]) == (160, 120)
    assert await api.fails("sendPhoto", files={"photo": ("p.jpg", b"not an image", "image/jpeg")}, chat_id=1) == (
        400,
        "Bad Request: IMAGE_PROCESS_FAILED",
    )
    assert await api.fails("sendDocument", files={"document": ("e.txt", b"", "text/plain")}, chat_id=1) == (
        400,
        "Bad Request: file must be non-empty",
    )


async def test_caption_limit(api: Api):
    await _user(api)
    doc = {"document": ("a.txt", b"a", "text/plain")}
    assert (await api.ok("sendDocument", files=doc, chat_id=1, caption="c" * 1024))["caption"] == "c" * 1024
    assert await api.fails("sendDocument", files=doc, chat_id=1, caption="c" * 1025) == (
        400,
        "Bad Request: message caption is too long",
    )


async def test_upload_over_the_cap_is_413_and_leaves_nothing(api: Api, http: httpx.AsyncClient, tmp_path: Path):
    await api.say(1, "hi")
    await api.config(upload_limit_mb=1)
    status, body = await api.call(
        "sendDocument", files={"document": ("big.bin", b"x" * (MIB + 1), "application/octet-stream")}, chat_id="1"
    )
    assert (status, body) == (413, {"ok": False, "error_code": 413, "description": "Request Entity Too Large"})
    exact = await api.ok(
        "sendDocument", files={"document": ("fits.bin", b"x" * MIB, "application/octet-stream")}, chat_id="1"
    )
    assert exact["document"]["file_size"] == MIB
    incoming = tmp_path / "sandbox" / "files" / "incoming"
    assert list(incoming.iterdir()) == []  # neither the refused upload nor the kept one is left behind


async def test_cloud_mode_caps_uploads_at_50_mb(api: Api):
    await api.say(1, "hi")
    config = await api.config(cloud_mode=True)
    assert config["cloud_mode"] is True and config["upload_limit_mb"] == 2000
    status, _ = await api.call(
        "sendDocument", files={"document": ("b.bin", b"\0" * (50 * MIB + 1), "application/octet-stream")}, chat_id="1"
    )
    assert status == 413
    await api.config(limits=False)  # limits off: no cap at all
    assert (
        await api.ok(
            "sendDocument",
            files={"document": ("b.bin", b"\0" * (50 * MIB + 1), "application/octet-stream")},
            chat_id="1",
        )
    )["document"]["file_size"] == 50 * MIB + 1


async def test_a_client_vanishing_mid_upload_leaves_no_file_and_no_harm(api: Api, sandbox_url: str, tmp_path: Path):
    await api.say(1, "hi")
    host, port = sandbox_url.removeprefix("http://").split(":")
    boundary = "cut"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="document"; filename="cut.bin"\r\n\r\n'
    ).encode()
    request = (
        f"POST /bot{TOKEN}/sendDocument HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {10 * MIB}\r\n\r\n"
    ).encode()
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(request + head + b"x" * (2 * MIB))
    incoming = tmp_path / "sandbox" / "files" / "incoming"
    with trio.fail_after(5):  # the partial upload is on disk...
        while not list(incoming.iterdir()):
            await trio.sleep(0.02)
    await stream.aclose()
    with trio.fail_after(5):  # ...and gone once the client has gone
        while list(incoming.iterdir()):
            await trio.sleep(0.02)
    assert (await api.ok("sendMessage", chat_id=1, text="still here"))["text"] == "still here"
