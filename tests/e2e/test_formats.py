"""What arrives is what Telegram plays: every video an H.264/AAC faststart MP4 sent for
streaming, whatever the source (WebM, HLS, a page with og:video); qualities as the media has them;
playlists in order; links found in captions, text links and forwarded posts."""

from __future__ import annotations

import itertools

from tests.support.bot import BotProcess, Chat, button, buttons
from tests.support.journey import link, set_default

users = itertools.count(40_000)


def assert_playable(video: dict) -> None:
    assert video["kind"] == "video"
    assert (video["video_codec"], video["audio_codec"]) == ("h264", "aac")
    assert video["faststart"] is True and video["supports_streaming"] is True
    assert video["duration"] >= 3 and video["width"] and video["height"] and video["has_thumbnail"]


async def best_of(bot: BotProcess, chat: Chat, url: str, **extra: object) -> dict:
    await set_default(chat, "best")
    await chat.say(url, **extra)
    [sent] = await chat.wait_files(1, timeout=120)
    return sent


async def test_a_webm_arrives_as_an_h264_aac_faststart_mp4(shared_bot, http):
    sent = await best_of(shared_bot, Chat(http, next(users), shared_bot), link(shared_bot, "sample.webm", t="webm"))
    assert_playable(sent["media"])
    assert sent["media"]["mime_type"] == "video/mp4"


async def test_hls_and_an_og_video_page_arrive_as_videos(shared_bot, http):
    for name in ("sample.m3u8", "page.html"):
        sent = await best_of(shared_bot, Chat(http, next(users), shared_bot), link(shared_bot, name, t="hls-page"))
        assert_playable(sent["media"])


async def test_a_titled_page_gives_its_title_to_the_caption_escaped(shared_bot, http):
    title = "<b>Bold</b> & friends"
    url = link(shared_bot, "page.html", title="%3Cb%3EBold%3C%2Fb%3E%20%26%20friends")
    sent = await best_of(shared_bot, Chat(http, next(users), shared_bot), url)
    assert title in sent["caption"]  # shown as written, not as markup
    assert "&lt;b&gt;" in sent["html"]


async def test_multi_quality_hls_offers_three_qualities_with_sizes_and_the_chosen_one_arrives(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(link(shared_bot, "multi.m3u8", t="ladder"))
    offer = await chat.wait_buttons()
    labels = [b["text"] for b in buttons(offer)]
    for height in ("720p", "480p", "240p"):
        assert any(height in t and "MB" in t for t in labels), labels
    await chat.press(offer["message_id"], button(offer, "480p")["callback_data"])
    [sent] = await chat.wait_files(1, timeout=120)
    assert_playable(sent["media"])
    assert sent["media"]["height"] == 480


async def test_a_feed_of_five_arrives_in_order_under_one_status(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await chat.say(link(shared_bot, "feed.xml", items=5))
    offer = await chat.wait_buttons()
    assert "5" in offer["text"]
    await chat.press(offer["message_id"], button(offer, "Best")["callback_data"])
    sent = await chat.wait_files(5, timeout=180)
    assert [m["caption"].splitlines()[0] for m in sent] == [f"Item {i}" for i in range(1, 6)]
    status = await chat.wait_text("5/5")
    assert status["message_id"] == offer["message_id"]  # one status message for the whole list


async def test_links_in_a_caption_a_text_link_and_a_forwarded_post_are_found(shared_bot, http):
    chat = Chat(http, next(users), shared_bot)
    await set_default(chat, "best")
    await chat.say(None, caption="look " + link(shared_bot, "sample.mp4", t="caption"))
    await chat.wait_files(1, timeout=90)
    target = link(shared_bot, "sample.mp4", t="text-link")
    await chat.say("this one", entities=[{"type": "text_link", "offset": 0, "length": 4, "url": target}])
    await chat.wait_files(2, timeout=90)
    await http.post("/sandbox/chats", json={"username": "@news40", "type": "channel", "title": "News"})
    await chat.say(link(shared_bot, "sample.mp4", t="forward"), forward_from_chat="@news40")
    await chat.wait_files(3, timeout=90)
