"""sendMediaGroup: albums of photos and videos (and of documents or audios alone), each item a
message sharing a media_group_id; Telegram's refusals, which send nothing; the send limits
counted per item; editMessageMedia on a message and within an album; sendVideo's start_timestamp
and cover."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.support import Api

USER = 7


async def _started(api: Api, *, limits: bool = False) -> None:
    await api.config(limits=limits)
    await api.say(USER, "سلام، آلبوم بفرست")


def _files(sample_media: Path, **names: str) -> dict[str, Any]:
    """Multipart file parts: part name -> a sample file."""
    types = {".jpg": "image/jpeg", ".mp4": "video/mp4", ".m4a": "audio/mp4"}
    return {part: (name, (sample_media / name).read_bytes(), types[Path(name).suffix]) for part, name in names.items()}


async def test_an_album_of_photo_video_photo_arrives_in_order_with_one_group_and_the_caption(
    api: Api, sample_media: Path
) -> None:
    await _started(api)
    asked = await api.say(USER, "https://example.com/post/1")
    media = [
        {"type": "photo", "media": "attach://a", "caption": "<b>پست</b> با سه مورد", "parse_mode": "HTML"},
        {"type": "video", "media": "attach://b", "width": 320, "height": 240, "supports_streaming": True},
        {"type": "photo", "media": "attach://c"},
    ]
    files = _files(sample_media, a="thumb.jpg", b="sample.mp4", c="thumb.jpg")
    sent = await api.ok(
        "sendMediaGroup",
        files=files,
        chat_id=USER,
        media=media,
        reply_parameters={"message_id": asked},
    )
    assert [next(k for k in ("photo", "video") if k in m) for m in sent] == ["photo", "video", "photo"]
    groups = {m["media_group_id"] for m in sent}
    assert len(groups) == 1 and next(iter(groups)).isdigit()
    assert [m["message_id"] for m in sent] == sorted(m["message_id"] for m in sent)
    assert sent[0]["caption"] == "پست با سه مورد" and sent[0]["caption_entities"][0]["type"] == "bold"
    assert "caption" not in sent[1] and "caption" not in sent[2]
    assert all(m["reply_to_message"]["message_id"] == asked for m in sent)
    assert sent[1]["video"]["width"] == 320 and sent[1]["video"]["duration"] == 4  # probed, as Telegram does

    shown = [m for m in (await api.chat(USER))["messages"] if m["from"] == "bot"]
    assert [m["media"]["kind"] for m in shown] == ["photo", "video", "photo"]
    assert {m["media_group_id"] for m in shown} == groups
    assert shown[0]["caption"] == "پست با سه مورد" and shown[0]["html"] == "<b>پست</b> با سه مورد"
    assert (await api.stats())["sends_per_chat"][str(USER)] == 3


async def test_a_second_album_gets_its_own_group_and_file_ids_are_sent_again(api: Api, sample_media: Path) -> None:
    await _started(api)
    first = await api.ok(
        "sendMediaGroup",
        files=_files(sample_media, a="thumb.jpg", b="sample.mp4"),
        chat_id=USER,
        media=[{"type": "photo", "media": "attach://a"}, {"type": "video", "media": "attach://b"}],
    )
    photo_id, video_id = first[0]["photo"][-1]["file_id"], first[1]["video"]["file_id"]
    again = await api.ok(
        "sendMediaGroup",
        chat_id=USER,
        media=[{"type": "video", "media": video_id, "caption": "again"}, {"type": "photo", "media": photo_id}],
    )
    assert again[0]["video"]["file_id"] == video_id and again[1]["photo"][-1]["file_id"] == photo_id
    assert again[0]["media_group_id"] != first[0]["media_group_id"]
    assert (await api.stats())["bytes_uploaded"] == sum(
        (sample_media / n).stat().st_size for n in ("thumb.jpg", "sample.mp4")
    )


async def test_documents_and_audios_form_albums_of_their_own_kind(api: Api, sample_media: Path) -> None:
    await _started(api)
    docs = await api.ok(
        "sendMediaGroup",
        files=_files(sample_media, a="thumb.jpg", b="sample.mp4"),
        chat_id=USER,
        media=[{"type": "document", "media": "attach://a"}, {"type": "document", "media": "attach://b"}],
    )
    assert [("document" in m) for m in docs] == [True, True] and docs[0]["media_group_id"] == docs[1]["media_group_id"]
    audios = await api.ok(
        "sendMediaGroup",
        files=_files(sample_media, a="audio.m4a", b="audio.m4a"),
        chat_id=USER,
        media=[{"type": "audio", "media": "attach://a", "title": "یک"}, {"type": "audio", "media": "attach://b"}],
    )
    assert audios[0]["audio"]["title"] == "یک" and "audio" in audios[1]


async def test_one_item_is_sent_as_a_plain_message_outside_any_album(api: Api, sample_media: Path) -> None:
    await _started(api)
    [only] = await api.ok(
        "sendMediaGroup",
        files=_files(sample_media, a="thumb.jpg"),
        chat_id=USER,
        media=[{"type": "photo", "media": "attach://a"}],
    )
    assert "photo" in only and "media_group_id" not in only
    assert (await api.chat(USER))["messages"][-1]["media_group_id"] is None


REFUSALS = [
    ("absent", None, 'Bad Request: parameter "media" is required'),
    ("not a list", {"type": "photo"}, "Bad Request: can't parse media JSON object"),
    ("empty", [], "Bad Request: there are no messages to send"),
    ("eleven", [{"type": "photo", "media": "attach://a"}] * 11, "Bad Request: too many messages to send as an album"),
    (
        "document with a photo",
        [{"type": "photo", "media": "attach://a"}, {"type": "document", "media": "attach://a"}],
        "Bad Request: document can't be mixed with other media types",
    ),
    (
        "audio with a photo",
        [{"type": "audio", "media": "attach://b"}, {"type": "photo", "media": "attach://a"}],
        "Bad Request: audio can't be mixed with other media types",
    ),
    (
        "animation",
        [{"type": "animation", "media": "attach://a"}, {"type": "photo", "media": "attach://a"}],
        "Bad Request: can't parse InputMedia: type \"animation\" can't be used in sendMediaGroup",
    ),
    (
        "sticker",
        [{"type": "sticker", "media": "attach://a"}, {"type": "photo", "media": "attach://a"}],
        'Bad Request: can\'t parse InputMedia: type "sticker" is unsupported',
    ),
    (
        "missing part",
        [{"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "attach://nowhere"}],
        "Bad Request: can't parse InputMedia: media not found",
    ),
    (
        "unknown file_id",
        [{"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "AgACnotafile"}],
        "Bad Request: wrong file identifier/HTTP URL specified",
    ),
    (
        "a video that is no picture",
        [{"type": "photo", "media": "attach://b"}, {"type": "photo", "media": "attach://a"}],
        "Bad Request: IMAGE_PROCESS_FAILED",
    ),
    (
        "a caption too long",
        [{"type": "photo", "media": "attach://a", "caption": "ب" * 1025}, {"type": "photo", "media": "attach://a"}],
        "Bad Request: message caption is too long",
    ),
]


@pytest.mark.parametrize(("case", "media", "description"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_a_refused_album_says_why_as_telegram_does_and_sends_nothing(
    api: Api, sample_media: Path, case: str, media: Any, description: str
) -> None:
    await _started(api)
    params: dict[str, Any] = {"chat_id": USER}
    if media is not None:
        params["media"] = json.dumps(media)
    status, said = await api.fails("sendMediaGroup", files=_files(sample_media, a="thumb.jpg", b="audio.m4a"), **params)
    assert (status, said) == (400, description)
    assert [m for m in (await api.chat(USER))["messages"] if m["from"] == "bot"] == []
    assert (await api.stats())["sends"] == 0


async def test_an_album_counts_every_item_against_the_limits(api: Api, sample_media: Path) -> None:
    """A private chat's burst is 3 messages at 1 a second: an album of 5 goes when the burst is
    whole and leaves the chat 2 messages in debt, so the next send waits for what it took."""
    await _started(api, limits=True)
    await api.config(chat_rate=1, chat_burst=3, bot_rate=30)
    five = [{"type": "photo", "media": "attach://a"}] * 5
    sent = await api.ok("sendMediaGroup", files=_files(sample_media, a="thumb.jpg"), chat_id=USER, media=five)
    assert len(sent) == 5 and (await api.stats())["sends"] == 5
    status, said = await api.fails("sendMessage", chat_id=USER, text="right after")
    assert status == 429 and said.startswith("Too Many Requests: retry after ")
    wait = int(said.rsplit(" ", 1)[1])
    assert 2 <= wait <= 3, said  # 2 messages of debt plus the one token asked for, at 1 a second


async def test_send_video_keeps_its_start_timestamp_and_cover(api: Api, sample_media: Path) -> None:
    await _started(api)
    msg = await api.ok(
        "sendVideo",
        files=_files(sample_media, video="sample.mp4", pic="thumb.jpg"),
        chat_id=USER,
        video="attach://video",
        cover="attach://pic",
        start_timestamp=2,
    )
    video = msg["video"]
    assert video["start_timestamp"] == 2 and video["cover"][0]["width"] == 160
    again = await api.ok(
        "sendVideo", chat_id=USER, video=video["file_id"], start_timestamp=3, cover=video["cover"][0]["file_id"]
    )
    assert (
        again["video"]["start_timestamp"] == 3 and again["video"]["cover"][0]["file_id"] == video["cover"][0]["file_id"]
    )
    plain = await api.ok("sendVideo", chat_id=USER, video=video["file_id"])
    assert "start_timestamp" not in plain["video"] and "cover" not in plain["video"]
    shown = [m["media"] for m in (await api.chat(USER))["messages"] if m["from"] == "bot"]
    assert [(m["start_timestamp"], m["cover_url"] is not None) for m in shown] == [(2, True), (3, True), (None, False)]
    status, said = await api.fails("sendVideo", chat_id=USER, video=video["file_id"], start_timestamp=-1)
    assert (status, said) == (400, "Bad Request: invalid start timestamp specified")


async def test_edit_message_media_turns_a_text_into_a_video_and_refuses_the_same_again(
    api: Api, sample_media: Path
) -> None:
    await _started(api)
    status_msg = await api.ok("sendMessage", chat_id=USER, text="⏳ در حال دانلود…")
    video = await api.ok(
        "sendVideo", files=_files(sample_media, video="sample.mp4"), chat_id=USER, video="attach://video"
    )
    file_id = video["video"]["file_id"]
    media = {"type": "video", "media": file_id, "caption": "تمام شد", "start_timestamp": 1}
    edited = await api.ok("editMessageMedia", chat_id=USER, message_id=status_msg["message_id"], media=media)
    assert edited["video"]["file_id"] == file_id and edited["caption"] == "تمام شد" and "text" not in edited
    assert edited["video"]["start_timestamp"] == 1 and edited["edit_date"] >= edited["date"]
    status, said = await api.fails("editMessageMedia", chat_id=USER, message_id=status_msg["message_id"], media=media)
    assert status == 400 and said.startswith("Bad Request: message is not modified")
    uploaded = await api.ok(
        "editMessageMedia",
        files=_files(sample_media, pic="thumb.jpg"),
        chat_id=USER,
        message_id=status_msg["message_id"],
        media=json.dumps({"type": "photo", "media": "attach://pic"}),
    )
    assert "photo" in uploaded and "video" not in uploaded
    view = next(m for m in (await api.chat(USER))["messages"] if m["message_id"] == status_msg["message_id"])
    assert view["media"]["kind"] == "photo" and view["edit_count"] == 2


async def test_a_message_of_a_photo_album_cannot_become_a_document(api: Api, sample_media: Path) -> None:
    await _started(api)
    album = await api.ok(
        "sendMediaGroup",
        files=_files(sample_media, a="thumb.jpg", b="sample.mp4"),
        chat_id=USER,
        media=[{"type": "photo", "media": "attach://a"}, {"type": "video", "media": "attach://b"}],
    )
    video_id = album[1]["video"]["file_id"]
    moved = await api.ok(
        "editMessageMedia", chat_id=USER, message_id=album[0]["message_id"], media={"type": "video", "media": video_id}
    )
    assert moved["media_group_id"] == album[0]["media_group_id"] and "video" in moved
    doc = await api.ok("sendDocument", files=_files(sample_media, d="thumb.jpg"), chat_id=USER, document="attach://d")
    status, said = await api.fails(
        "editMessageMedia",
        chat_id=USER,
        message_id=album[0]["message_id"],
        media={"type": "document", "media": doc["document"]["file_id"]},
    )
    assert (status, said) == (400, "Bad Request: document can't be mixed with other media types")
