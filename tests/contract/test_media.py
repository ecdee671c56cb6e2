"""Files as a user receives them: a video with thumbnail and progress, re-sent by file_id, an
upload cancelled half way, and a file over the backend's limit refused before any byte is sent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import trio

from core.telegram.port import Media, MediaKind, TooLarge
from tests.contract.world import ChatRecord, World

USER = 2002
DEADLINE = 30.0  # seconds for any one test's Telegram traffic
CANCEL_FILE_SIZE = 24 * 1024 * 1024  # big enough that it cannot be done when the first part is
CONCURRENT_FILE_SIZE = 3 * 1024 * 1024
PROMPT = 2.0  # seconds a cancelled upload may take to stop


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def media_messages(world: World, user_id: int = USER) -> list[ChatRecord]:
    return [r for r in await world.chat(user_id) if r.from_bot and r.media_kind is not None]


async def test_a_video_with_thumbnail_arrives_whole_and_progress_reaches_100_percent(env, clip):
    await env.world.user_message(USER, "/start")
    size = clip.video.stat().st_size
    reports: list[tuple[int, int]] = []
    media = Media(
        MediaKind.VIDEO,
        path=clip.video,
        caption="<b>Sample</b> clip",
        file_name="sample clip.mp4",
        thumbnail=clip.thumbnail,
        duration=clip.duration,
        width=clip.width,
        height=clip.height,
    )
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            sent = await port.send_media(USER, media, progress=lambda done, total: reports.append((done, total)))

    assert reports, "no progress was reported"
    assert reports[-1] == (size, size), f"progress ended at {reports[-1]} of {size}"
    done = [d for d, _ in reports]
    assert done == sorted(done) and {t for _, t in reports} == {size}
    assert sent.chat_id == USER and sent.file_id
    [shown] = await media_messages(env.world)
    assert shown.message_id == sent.message_id
    assert shown.media_kind == "video" and shown.text == "Sample clip"
    assert shown.media_size == size and shown.media_sha256 == sha256(clip.video)
    assert shown.has_thumbnail


async def test_a_file_is_sent_again_by_its_file_id_without_uploading(env, clip):
    await env.world.user_message(USER, "/start")
    reports: list[tuple[int, int]] = []
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            first = await port.send_media(USER, Media(MediaKind.VIDEO, path=clip.video))
            again = await port.send_media(
                USER,
                Media(MediaKind.VIDEO, file_id=first.file_id, caption="again"),
                progress=lambda done, total: reports.append((done, total)),
            )
    assert again.message_id != first.message_id and again.file_id
    assert reports == [], f"a re-send by file_id uploaded something: {reports}"
    shown = await media_messages(env.world)
    assert [m.message_id for m in shown] == [first.message_id, again.message_id]
    assert shown[1].media_sha256 == shown[0].media_sha256 == sha256(clip.video)
    assert shown[1].text == "again"


async def test_several_files_upload_at_once_and_each_arrives_whole(env, tmp_path):
    await env.world.user_message(USER, "/start")
    files = []
    for i in range(3):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(os.urandom(CONCURRENT_FILE_SIZE + i))
        files.append(path)
    sent: dict[Path, str] = {}
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            async with trio.open_nursery() as nursery:
                for path in files:

                    async def upload(path: Path = path) -> None:
                        media = Media(MediaKind.DOCUMENT, path=path, caption=path.name)
                        sent[path] = (await port.send_media(USER, media)).file_id

                    nursery.start_soon(upload)
    shown = {r.text: r for r in await media_messages(env.world)}
    assert sorted(shown) == sorted(p.name for p in files)
    for path in files:
        assert shown[path.name].media_sha256 == sha256(path) and shown[path.name].media_size == path.stat().st_size
        assert sent[path]


async def test_cancelling_an_upload_in_progress_stops_it_and_sends_nothing(env, tmp_path):
    await env.world.user_message(USER, "/start")
    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        for _ in range(CANCEL_FILE_SIZE // (1 << 20)):
            f.write(os.urandom(1 << 20))
    cancelled_at: list[float] = []
    reports: list[int] = []
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            with trio.CancelScope() as scope:

                def progress(done: int, total: int) -> None:
                    reports.append(done)
                    if done > 0 and not cancelled_at:
                        cancelled_at.append(trio.current_time())
                        scope.cancel()

                await port.send_media(USER, Media(MediaKind.DOCUMENT, path=big), progress=progress)
            stopped = trio.current_time()
            assert scope.cancelled_caught, f"send_media returned instead of being cancelled; progress {reports}"
            assert cancelled_at and stopped - cancelled_at[0] < PROMPT
            assert max(reports) < CANCEL_FILE_SIZE
            # The port is fine afterwards, and the user got the text but no file.
            after = await port.send_text(USER, "still here")
    assert await media_messages(env.world) == []
    assert [r.text for r in await env.world.chat(USER) if r.from_bot] == ["still here"]
    assert after.chat_id == USER


async def test_a_file_over_the_upload_limit_is_refused_before_uploading(env, tmp_path):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        huge = tmp_path / "huge.bin"
        with huge.open("wb") as f:
            f.truncate(port.upload_limit + 1)  # sparse: no disk is used
        reports: list[int] = []
        with trio.fail_after(DEADLINE), pytest.raises(TooLarge):
            await port.send_media(
                USER, Media(MediaKind.DOCUMENT, path=huge), progress=lambda done, total: reports.append(done)
            )
    assert not any(reports), f"bytes went out before the refusal: {reports[-1]}"
    assert await media_messages(env.world) == []
