"""Albums and media edits as a user sees them: photos and a video as one album in order, with one
media_group_id and the caption on the first; an album sent again by file_id; what Telegram
refuses refused before anything is sent; a status message turned into the video; a video that
starts at a given second."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import trio

from core.telegram.port import MAX_ALBUM_ITEMS, Media, MediaKind
from tests.contract.world import ChatRecord, World

USER = 3003
DEADLINE = 30.0  # seconds for any one test's Telegram traffic


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def bot_media(world: World) -> list[ChatRecord]:
    return [r for r in await world.chat(USER) if r.from_bot and r.media_kind is not None]


async def test_photos_and_a_video_arrive_as_one_album_in_order_with_the_caption_on_the_first(env, clip):
    asked = await env.world.user_message(USER, "https://example.com/post/7")
    items = [
        Media(MediaKind.PHOTO, path=clip.thumbnail, caption="<b>پست</b> هفت"),
        Media(MediaKind.VIDEO, path=clip.video, thumbnail=clip.thumbnail, duration=2, width=320, height=240),
        Media(MediaKind.PHOTO, path=clip.thumbnail),
    ]
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            sent = await port.send_media_group(USER, items, reply_to=asked)
    assert [s.chat_id for s in sent] == [USER] * 3 and all(s.file_id for s in sent)
    shown = await bot_media(env.world)
    assert [r.message_id for r in shown] == [s.message_id for s in sent]
    assert [r.media_kind for r in shown] == ["photo", "video", "photo"]
    assert [r.text for r in shown] == ["پست هفت", "", ""]
    groups = {r.media_group_id for r in shown}
    assert len(groups) == 1 and None not in groups
    assert shown[1].media_sha256 == sha256(clip.video) and shown[1].media_size == clip.video.stat().st_size


async def test_an_album_is_sent_again_by_file_id_as_a_new_album(env, clip):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            first = await port.send_media_group(
                USER, [Media(MediaKind.VIDEO, path=clip.video), Media(MediaKind.PHOTO, path=clip.thumbnail)]
            )
            again = await port.send_media_group(
                USER,
                [
                    Media(MediaKind.VIDEO, file_id=first[0].file_id, caption="again"),
                    Media(MediaKind.PHOTO, file_id=first[1].file_id),
                ],
            )
    shown = await bot_media(env.world)
    assert [r.message_id for r in shown] == [s.message_id for s in (*first, *again)]
    assert shown[2].media_sha256 == shown[0].media_sha256 == sha256(clip.video)
    assert shown[2].text == "again" and shown[0].media_group_id != shown[2].media_group_id


@pytest.mark.parametrize(
    "case",
    ["one item", "eleven items", "a document with a photo", "a keyboard", "a video's start in an album"],
)
async def test_an_album_telegram_would_refuse_is_refused_before_anything_is_sent(env, clip, case):
    from core.telegram.port import Button

    await env.world.user_message(USER, "/start")
    photo = Media(MediaKind.PHOTO, path=clip.thumbnail)
    items = {
        "one item": [photo],
        "eleven items": [photo] * (MAX_ALBUM_ITEMS + 1),
        "a document with a photo": [photo, Media(MediaKind.DOCUMENT, path=clip.thumbnail)],
        "a keyboard": [photo, Media(MediaKind.PHOTO, path=clip.thumbnail, keyboard=((Button("x", "y"),),))],
        "a video's start in an album": [photo, Media(MediaKind.VIDEO, path=clip.video, start_timestamp=1)],
    }[case]
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE), pytest.raises(ValueError):
            await port.send_media_group(USER, items)
    assert await bot_media(env.world) == []


async def test_a_status_message_becomes_the_video_it_announced(env, clip):
    await env.world.user_message(USER, "/start")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            status = await port.send_text(USER, "⏳ در حال دانلود…")
            await port.edit_media(
                USER, status.message_id, Media(MediaKind.VIDEO, path=clip.video, caption="<i>آماده</i>")
            )
    [shown] = [r for r in await env.world.chat(USER) if r.message_id == status.message_id]
    assert shown.media_kind == "video" and shown.media_sha256 == sha256(clip.video)
    assert shown.text == "آماده" and shown.edit_count == 1


async def test_a_video_starts_at_the_second_the_link_pointed_at(env, clip):
    await env.world.user_message(USER, "https://www.youtube.com/watch?v=x&t=1")
    async with env.make_port() as port:
        with trio.fail_after(DEADLINE):
            first = await port.send_media(USER, Media(MediaKind.VIDEO, path=clip.video, start_timestamp=1))
            await port.send_media(USER, Media(MediaKind.VIDEO, file_id=first.file_id, start_timestamp=2))
            await port.send_media(USER, Media(MediaKind.VIDEO, file_id=first.file_id))
    assert [r.start_timestamp for r in await bot_media(env.world)] == [1, 2, None]
