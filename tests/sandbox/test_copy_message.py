"""copyMessage as a broadcast uses it: each copy shows in the receiver's chat, from the bot, with
the copied content; /sandbox/stats counts copies and sends per chat; blocked users get 403."""

from __future__ import annotations

from pathlib import Path

from tests.sandbox.support import Api

ADMIN, READERS, BLOCKER = 20, (21, 22), 23


async def test_a_broadcast_copy_reaches_each_reader_once(api: Api):
    await api.config(limits=False)
    for user_id in (ADMIN, *READERS, BLOCKER):
        await api.say(user_id, "/start")
    await api.user(BLOCKER, "block")
    post = await api.user(ADMIN, "messages", text="News: https://example.com/new 🎉")
    for user_id in READERS:
        copied = await api.ok("copyMessage", chat_id=user_id, from_chat_id=ADMIN, message_id=post["message_id"])
        assert set(copied) == {"message_id"}
        [_, shown] = (await api.chat(user_id))["messages"]
        assert (shown["message_id"], shown["from"], shown["text"]) == (
            copied["message_id"],
            "bot",
            "News: https://example.com/new 🎉",
        )
        assert shown["entities"] == [{"type": "url", "offset": 6, "length": 23}]
    status, description = await api.fails(
        "copyMessage", chat_id=BLOCKER, from_chat_id=ADMIN, message_id=post["message_id"]
    )
    assert (status, description) == (403, "Forbidden: bot was blocked by the user")
    stats = await api.stats()
    assert stats["copies_per_chat"] == {str(user_id): 1 for user_id in READERS}
    assert stats["sends_per_chat"] == {str(user_id): 1 for user_id in READERS}
    assert len((await api.chat(BLOCKER))["messages"]) == 1


async def test_copying_media_keeps_the_file_and_may_change_the_caption(api: Api, sample_media: Path):
    await api.config(limits=False)
    await api.say(ADMIN, "/start")
    await api.say(READERS[0], "/start")
    video = (sample_media / "sample.mp4").read_bytes()
    sent = await api.ok("sendVideo", files={"video": ("a.mp4", video, "video/mp4")}, chat_id=ADMIN, caption="old")
    await api.ok("copyMessage", chat_id=READERS[0], from_chat_id=ADMIN, message_id=sent["message_id"])
    await api.ok(
        "copyMessage", chat_id=READERS[0], from_chat_id=ADMIN, message_id=sent["message_id"], caption="<b>new</b>",
        parse_mode="HTML",
    )  # fmt: skip
    photo = await api.user(ADMIN, "messages", photo=True, caption="a photo")
    await api.ok("copyMessage", chat_id=READERS[0], from_chat_id=ADMIN, message_id=photo["message_id"])
    _, first, second, third = (await api.chat(READERS[0]))["messages"]
    assert all(m["from"] == "bot" for m in (first, second, third))
    assert (first["caption"], first["media"]["file_id"]) == ("old", sent["video"]["file_id"])
    assert (second["caption"], second["entities"], second["media"]["kind"]) == (
        "new",
        [{"type": "bold", "offset": 0, "length": 3}],
        "video",
    )
    assert (third["caption"], third["media"]["kind"]) == ("a photo", "photo")
    stats = await api.stats()
    assert stats["copies_per_chat"] == {str(READERS[0]): 3}
    assert stats["sends_per_chat"] == {str(ADMIN): 1, str(READERS[0]): 3}
