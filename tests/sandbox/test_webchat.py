"""The sandbox's web chat in a real browser (Playwright driving Debian's chromium).

A person opens the page, picks a user, sends a sample link, gets a video back from the bot (the test
plays the bot through the Bot API), plays it, presses an inline button, joins a sponsor channel,
writes in Persian (right to left) and blocks the bot. The journey test walks a download as a person
lives it: format buttons, a status message edited in place, the video, a Cancel button, and the
header's فا / EN switch. Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.plain_asyncio import plain_asyncio
from tests.sandbox.webchat_helpers import (
    CHROMIUM_ARGS,
    Bot,
    Sandbox,
    require_chromium,
    running_sandbox,
)
from tests.support.paths import ARTIFACTS

pytestmark = pytest.mark.browser

UI_DEADLINE_MS = 10_000  # a page change the bot caused shows within this
UPDATE_DEADLINE_S = 10.0  # a page action reaches the bot's getUpdates within this
PLAY_DEADLINE_MS = 15_000  # the received video starts and advances within this
PLAYED_S = 0.3  # currentTime past this proves frames were decoded and time advanced
SPONSOR = "@webchat_sponsor"
PERSIAN = "سلام! لطفا این ویدیو را برایم بفرست"
PERSIAN_REPLY = "ویدیو آماده است"
PERSIAN_GREETING = "سلام 👋 ممنون!"
PERSIAN_WELCOME = "👋 خوش آمدید! ویدیوی بعدی در راه است ▰▰▰▱▱ ۶۰٪"
TIPS = 12
PROGRESS = ["▰▱▱▱▱ 20%", "▰▰▰▱▱ 60%", "▰▰▰▰▱ 80%"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    require_chromium()  # skip (or fail on CI) before starting anything
    with running_sandbox(tmp_path_factory.mktemp("sandbox")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(sandbox: Sandbox) -> Iterator[Browser]:
    with plain_asyncio(), sync_playwright() as p:
        launched = p.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def opened_page(browser: Browser, url: str, without_events: bool = False) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1180, "height": 860}, locale="en-US")
    context.set_default_timeout(UI_DEADLINE_MS)
    expect.set_options(timeout=UI_DEADLINE_MS)
    try:
        if without_events:  # the event stream fails, as behind a proxy that buffers it
            context.route("**/sandbox/users/*/events", lambda route: route.abort())
        tab = context.new_page()
        tab.goto(url + "/")
        yield tab
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, sandbox: Sandbox) -> Iterator[Page]:
    with opened_page(browser, sandbox.url) as tab:
        yield tab


@pytest.fixture
def bot(sandbox: Sandbox) -> Iterator[Bot]:
    player = Bot(sandbox.url)
    try:
        yield player
    finally:
        player.close()


def open_user(page: Page, user_id: int, name: str, lang: str) -> None:
    page.get_by_test_id("user-id").fill(str(user_id))
    page.get_by_test_id("user-name").fill(name)
    page.get_by_test_id("user-lang").select_option(lang)
    page.get_by_test_id("user-apply").click()
    expect(page.get_by_test_id("chat-user")).to_contain_text(f"({user_id})")


def bot_message(page: Page, message_id: int) -> Any:
    return page.locator(f'[data-testid="msg"][data-from="bot"][data-message-id="{message_id}"]')


def from_user(user_id: int, kind: str) -> Any:
    def match(update: dict[str, Any]) -> bool:
        return update.get(kind, {}).get("from", {}).get("id") == user_id

    return match


def direction(locator: Any) -> str:
    return str(locator.evaluate("node => getComputedStyle(node).direction"))


def test_person_sends_sample_link_plays_video_presses_button_in_persian(page: Page, bot: Bot, sandbox: Sandbox) -> None:
    user_id = 4242
    httpx.post(
        f"{sandbox.url}/sandbox/chats",
        json={"username": SPONSOR, "type": "channel", "title": "Webchat sponsor", "bot_is_admin": True},
    ).raise_for_status()
    open_user(page, user_id, "Sara", "en")

    # The person clicks the sample video link; the bot receives exactly that link as a message.
    sample_url = f"{sandbox.url}/media/sample.mp4"
    page.locator(f'[data-testid="sample-link"][data-url="{sample_url}"]').click()
    expect(page.locator('[data-testid="msg"][data-from="user"]').last).to_contain_text(sample_url)
    update = bot.wait_update("the sample link", from_user(user_id, "message"), UPDATE_DEADLINE_S)
    assert update["message"]["text"] == sample_url

    # The bot answers with the video (multipart upload) under an inline keyboard.
    video_bytes = httpx.get(sample_url).raise_for_status().content
    sent = bot.call(
        "sendVideo",
        files={"video": ("sample.mp4", video_bytes, "video/mp4")},
        chat_id=str(user_id),
        caption="<b>Your video</b> is ready",
        parse_mode="HTML",
        reply_markup={
            "inline_keyboard": [
                [{"text": "Again", "callback_data": "again:1"}, {"text": "Source", "url": sample_url}],
            ]
        },
    )
    reply = bot_message(page, sent["message_id"])
    expect(reply.locator("b")).to_have_text("Your video")
    video = reply.locator('video[data-testid="media-video"]')
    expect(video).to_be_visible()
    expect(reply.locator('a[data-testid="kb-button"][data-kind="url"]')).to_have_attribute("target", "_blank")

    # It plays in the page: decoded frames (readyState >= 2) and time advancing.
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function(
        "([v, t]) => v.readyState >= 2 && v.currentTime > t && !v.error",
        arg=[video.element_handle(), PLAYED_S],
        timeout=PLAY_DEADLINE_MS,
    )

    # Pressing the callback button reaches the bot, whose answer shows as a toast.
    reply.locator('button[data-testid="kb-button"][data-callback="again:1"]').click()
    update = bot.wait_update("the button press", from_user(user_id, "callback_query"), UPDATE_DEADLINE_S)
    query = update["callback_query"]
    assert (query["data"], query["message"]["message_id"]) == ("again:1", sent["message_id"])
    bot.call("answerCallbackQuery", callback_query_id=query["id"], text="Sending it again")
    expect(page.get_by_test_id("toast").filter(has_text="Sending it again")).to_be_visible()

    # Joining the sponsor channel from the page is what the bot then sees.
    name = SPONSOR.removeprefix("@")
    page.get_by_test_id(f"join-{name}").click()
    expect(page.get_by_test_id(f"leave-{name}")).to_be_visible()
    member = bot.call("getChatMember", chat_id=SPONSOR, user_id=user_id)
    assert member["status"] == "member"

    # Text direction follows the text: Persian typed into the English page runs right to left...
    page.get_by_test_id("message-input").fill(PERSIAN)
    assert direction(page.get_by_test_id("message-input")) == "rtl"
    page.get_by_test_id("user-lang").select_option("fa")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_test_id("send-button")).to_have_attribute("aria-label", "ارسال")
    page.get_by_test_id("send-button").click()
    update = bot.wait_update("the Persian message", from_user(user_id, "message"), UPDATE_DEADLINE_S)
    assert (update["message"]["text"], update["message"]["from"].get("language_code")) == (PERSIAN, "fa")
    persian = bot.call("sendMessage", chat_id=user_id, text=PERSIAN_REPLY)
    persian_text = bot_message(page, persian["message_id"]).get_by_test_id("msg-text")
    expect(persian_text).to_have_text(PERSIAN_REPLY)
    assert direction(persian_text) == "rtl"
    assert direction(page.get_by_test_id("msg-text").filter(has_text=PERSIAN)) == "rtl"
    # ...and English text in the Persian page stays left to right.
    assert direction(reply.get_by_test_id("msg-text")) == "ltr"
    assert direction(page.locator('[data-testid="msg"][data-from="user"]').first.get_by_test_id("msg-text")) == "ltr"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(Path(ARTIFACTS, "webchat.png")), full_page=True)

    # Blocking the bot from the page is a fact of the sandbox: the bot can no longer write.
    page.get_by_test_id("block-toggle").click()
    expect(page.get_by_test_id("block-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("blocked-banner")).to_be_visible()
    refused = bot.http.post("/sendMessage", json={"chat_id": user_id, "text": "still there?"})
    assert (refused.status_code, refused.json()["description"]) == (403, "Forbidden: bot was blocked by the user")


def test_bot_html_is_rendered_safely_and_edits_and_deletes_show_live(page: Page, bot: Bot) -> None:
    user_id = 5151
    open_user(page, user_id, "Ali", "en")
    page.get_by_test_id("message-input").fill("hello")
    page.get_by_test_id("message-input").press("Enter")
    bot.wait_update("hello", from_user(user_id, "message"), UPDATE_DEADLINE_S)

    text = (
        '<b>bold</b> <i>it</i> <a href="https://example.org/x">link</a> <code>c</code> '
        "<tg-spoiler>secret</tg-spoiler> &lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;"
    )
    sent = bot.call("sendMessage", chat_id=user_id, text=text, parse_mode="HTML")
    body = bot_message(page, sent["message_id"]).get_by_test_id("msg-text")
    expect(body.locator("b")).to_have_text("bold")
    expect(body.locator("i")).to_have_text("it")
    expect(body.locator('a[data-entity="text_link"]')).to_have_attribute("href", "https://example.org/x")
    expect(body.locator("code")).to_have_text("c")
    expect(body.locator(".spoiler")).to_have_text("secret")
    # Escaped markup stays text: no element was made from it.
    expect(body).to_contain_text("<script>alert(1)</script> <img src=x onerror=alert(1)>")
    assert body.locator("script, img").count() == 0

    # An edit replaces the bubble in place; a delete shows it as deleted.
    bot.call(
        "editMessageText", chat_id=user_id, message_id=sent["message_id"], text="edited <i>now</i>", parse_mode="HTML"
    )
    edited = bot_message(page, sent["message_id"])
    expect(edited.get_by_test_id("msg-text")).to_have_text("edited now")
    expect(edited.get_by_test_id("msg-edited")).to_be_visible()
    assert edited.count() == 1
    bot.call("deleteMessage", chat_id=user_id, message_id=sent["message_id"])
    expect(edited).to_have_attribute("data-deleted", "true")


def test_page_polls_when_the_event_stream_fails(browser: Browser, sandbox: Sandbox, bot: Bot) -> None:
    user_id = 6161
    with opened_page(browser, sandbox.url, without_events=True) as page:
        open_user(page, user_id, "Reza", "en")
        expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "polling")
        page.get_by_test_id("message-input").fill("anyone there?")
        page.get_by_test_id("send-button").click()
        bot.wait_update("the message", from_user(user_id, "message"), UPDATE_DEADLINE_S)
        sent = bot.call("sendMessage", chat_id=user_id, text="yes, by polling")
        expect(bot_message(page, sent["message_id"])).to_contain_text("yes, by polling")


def keyboard(*rows: list[tuple[str, str]]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": text, "callback_data": data} for text, data in row] for row in rows]}


def press(page: Page, bot: Bot, message_id: int, data: str, user_id: int) -> dict[str, Any]:
    """The person clicks the callback button; the bot receives exactly that press and answers it."""
    bot_message(page, message_id).locator(f'button[data-testid="kb-button"][data-callback="{data}"]').click()
    update = bot.wait_update(f"the press of {data}", from_user(user_id, "callback_query"), UPDATE_DEADLINE_S)
    query = update["callback_query"]
    assert (query["data"], query["message"]["message_id"]) == (data, message_id)
    bot.call("answerCallbackQuery", callback_query_id=query["id"])
    return dict(query)


def scroll_top(page: Page) -> int:
    return int(page.get_by_test_id("messages").evaluate("n => n.scrollTop"))


def test_journey_choose_a_format_watch_progress_get_the_video_cancel_and_switch_language(
    page: Page, bot: Bot, sandbox: Sandbox
) -> None:
    user_id = 7373
    httpx.post(f"{sandbox.url}/sandbox/config", json={"limits": False}).raise_for_status()
    try:
        open_user(page, user_id, "Nima", "en")
        page.evaluate("window.sameDocument = true")  # gone if anything reloads the page

        # The person sends the three-quality sample; the bot offers the formats as buttons.
        link = f"{sandbox.url}/media/multi.m3u8"
        page.locator(f'[data-testid="sample-link"][data-url="{link}"]').click()
        asked = bot.wait_update("the link", from_user(user_id, "message"), UPDATE_DEADLINE_S)
        assert asked["message"]["text"] == link
        for i in range(TIPS):  # enough history that the chat scrolls
            bot.call("sendMessage", chat_id=user_id, text=f"Tip {i + 1}: links from many sites work 👍")
        offer = bot.call(
            "sendMessage",
            chat_id=user_id,
            text="👋 Choose a quality:",
            reply_markup=keyboard([("240p", "fmt:240"), ("480p", "fmt:480"), ("720p", "fmt:720")]),
        )
        status_id = offer["message_id"]
        status = bot_message(page, status_id)
        expect(status.get_by_test_id("msg-text")).to_have_text("👋 Choose a quality:")
        press(page, bot, status_id, "fmt:480", user_id)

        # The status message is edited in place as the download goes: same element, live, no scroll jump.
        element = status.element_handle()
        page.get_by_test_id("messages").evaluate("n => { n.scrollTop = 0; }")
        for bar in PROGRESS:
            text = f"⏳ Downloading 480p\n{bar}"
            bot.call(
                "editMessageText",
                chat_id=user_id,
                message_id=status_id,
                text=text,
                reply_markup=keyboard([("Cancel", "cancel:1")]),
            )
            expect(status.get_by_test_id("msg-text")).to_have_text(text)
            assert element.evaluate("n => n.isConnected") and status.count() == 1
            assert scroll_top(page) == 0
        expect(status.locator('button[data-callback="cancel:1"]')).to_be_visible()
        bot.call("editMessageText", chat_id=user_id, message_id=status_id, text="✅ 480p ▰▰▰▰▰ 100%")
        expect(status.get_by_test_id("msg-text")).to_have_text("✅ 480p ▰▰▰▰▰ 100%")
        expect(status.locator("button")).to_have_count(0)
        assert page.evaluate("window.sameDocument") is True

        # The video arrives and plays inline: a <video> whose src loads (metadata at least).
        video_bytes = httpx.get(f"{sandbox.url}/media/sample.mp4").raise_for_status().content
        sent = bot.call(
            "sendVideo",
            files={"video": ("multi-480p.mp4", video_bytes, "video/mp4")},
            chat_id=str(user_id),
            caption="Your video 🎬",
            supports_streaming=True,
        )
        video = bot_message(page, sent["message_id"]).locator('video[data-testid="media-video"]')
        expect(video).to_have_attribute("src", f"{sandbox.url}/sandbox/files/{sent['video']['file_id']}")
        page.wait_for_function(
            "v => v.readyState >= 1 && v.duration > 0 && !v.error", arg=video.element_handle(), timeout=PLAY_DEADLINE_MS
        )

        # A Cancel button is a callback button like any other.
        queued = bot.call(
            "sendMessage", chat_id=user_id, text="⏳ Queued: 720p", reply_markup=keyboard([("Cancel", "cancel:2")])
        )
        press(page, bot, queued["message_id"], "cancel:2", user_id)
        bot.call("editMessageText", chat_id=user_id, message_id=queued["message_id"], text="❌ Cancelled")
        expect(bot_message(page, queued["message_id"]).get_by_test_id("msg-text")).to_have_text("❌ Cancelled")

        # The header's فا / EN switch flips language and direction at once, and the user's language.
        expect(page.get_by_test_id("lang-en")).to_have_attribute("aria-pressed", "true")
        page.get_by_test_id("lang-fa").click()
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "fa")
        expect(page.get_by_test_id("lang-fa")).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_test_id("send-button")).to_have_attribute("aria-label", "ارسال")
        expect(page.locator("#side-title")).to_have_text("چت آزمایشی")
        expect(page.get_by_test_id("user-lang")).to_have_value("fa")
        page.get_by_test_id("message-input").fill(PERSIAN_GREETING)
        page.get_by_test_id("send-button").click()
        update = bot.wait_update("the Persian greeting", from_user(user_id, "message"), UPDATE_DEADLINE_S)
        assert (update["message"]["text"], update["message"]["from"]["language_code"]) == (PERSIAN_GREETING, "fa")
        welcome = bot.call("sendMessage", chat_id=user_id, text=PERSIAN_WELCOME)
        welcome_text = bot_message(page, welcome["message_id"]).get_by_test_id("msg-text")
        expect(welcome_text).to_have_text(PERSIAN_WELCOME)
        assert direction(welcome_text) == "rtl" and direction(status.get_by_test_id("msg-text")) == "ltr"
        assert page.evaluate("window.sameDocument") is True

        ARTIFACTS.mkdir(exist_ok=True)
        page.get_by_test_id("messages").evaluate("n => { n.scrollTop = n.scrollHeight; }")
        page.screenshot(path=str(Path(ARTIFACTS, "webchat-journey.png")))

        page.get_by_test_id("lang-en").click()
        expect(page.locator("html")).to_have_attribute("dir", "ltr")
        expect(page.get_by_test_id("send-button")).to_have_attribute("aria-label", "Send")
        expect(page.locator("#side-title")).to_have_text("Sandbox chat")
        expect(page.get_by_test_id("lang-fa")).to_have_attribute("aria-pressed", "false")
        page.get_by_test_id("message-input").fill("thanks")
        page.get_by_test_id("send-button").click()
        update = bot.wait_update("the English thanks", from_user(user_id, "message"), UPDATE_DEADLINE_S)
        assert update["message"]["from"]["language_code"] == "en"
    finally:
        httpx.post(f"{sandbox.url}/sandbox/config", json={"limits": True}).raise_for_status()


def test_an_album_shows_as_one_grid_in_order_with_its_caption(page: Page, bot: Bot, sandbox: Sandbox) -> None:
    user_id = 4343
    open_user(page, user_id, "Neda", "fa")
    page.get_by_test_id("message-input").fill("https://example.com/post/1")
    page.get_by_test_id("send-button").click()
    bot.wait_update("the post link", from_user(user_id, "message"), UPDATE_DEADLINE_S)
    jpg = httpx.get(f"{sandbox.url}/media/gallery_1.jpg").raise_for_status().content
    png = httpx.get(f"{sandbox.url}/media/gallery_2.png").raise_for_status().content
    mp4 = httpx.get(f"{sandbox.url}/media/sample.mp4").raise_for_status().content
    sent = bot.call(
        "sendMediaGroup",
        files={"a": ("a.jpg", jpg, "image/jpeg"), "b": ("b.mp4", mp4, "video/mp4"), "c": ("c.png", png, "image/png")},
        chat_id=str(user_id),
        media=[
            {"type": "photo", "media": "attach://a", "caption": "<b>آلبوم</b> سه‌تایی", "parse_mode": "HTML"},
            {"type": "video", "media": "attach://b"},
            {"type": "photo", "media": "attach://c"},
        ],
    )
    album = page.locator(f'[data-testid="album"][data-media-group-id="{sent[0]["media_group_id"]}"]')
    expect(album).to_have_attribute("data-count", "3")
    items = album.get_by_test_id("album-item")
    expect(items).to_have_count(3)
    assert [items.nth(i).get_attribute("data-message-id") for i in range(3)] == [str(m["message_id"]) for m in sent]
    expect(items.nth(0).locator("img")).to_be_visible()
    expect(items.nth(1).locator("video")).to_be_visible()
    expect(album.get_by_test_id("msg-text")).to_have_count(1)
    expect(album.locator("b")).to_have_text("آلبوم")
    assert page.locator('[data-testid="msg"][data-from="bot"]').count() == 0  # one grid, not three bubbles
    grid = album.get_by_test_id("album-grid").bounding_box()
    first, second = items.nth(1).bounding_box(), items.nth(2).bounding_box()
    assert grid and first and second and abs(first["y"] - second["y"]) < 2  # side by side, in the grid


def test_an_inline_result_is_chosen_and_edited_in_place_into_the_video(page: Page, bot: Bot, sandbox: Sandbox) -> None:
    user_id = 4444
    open_user(page, user_id, "Ali", "en")
    page.get_by_test_id("message-input").fill("/start")
    page.get_by_test_id("send-button").click()
    bot.wait_update("/start", from_user(user_id, "message"), UPDATE_DEADLINE_S)
    mp4 = httpx.get(f"{sandbox.url}/media/sample.mp4").raise_for_status().content
    video_id = bot.call("sendVideo", files={"video": ("v.mp4", mp4, "video/mp4")}, chat_id=str(user_id))["video"][
        "file_id"
    ]

    link = f"{sandbox.url}/media/sample.mp4"
    page.get_by_test_id("inline-query").fill(link)
    page.get_by_test_id("inline-ask").click()
    query = bot.wait_update("the inline query", from_user(user_id, "inline_query"), UPDATE_DEADLINE_S)["inline_query"]
    assert query["query"] == link
    expect(page.get_by_test_id("inline-waiting")).to_be_visible()
    keyboard = {"inline_keyboard": [[{"text": "⏳", "callback_data": "inline:wait"}]]}
    article = {
        "type": "article",
        "id": "get",
        "title": "⬇️ Send this video",
        "input_message_content": {"message_text": "⏳ 0%"},
        "reply_markup": keyboard,
    }
    bot.call("answerInlineQuery", inline_query_id=query["id"], results=[article])
    page.locator('[data-testid="inline-result"][data-result-id="get"]').click()
    chosen = bot.wait_update("the choice", from_user(user_id, "chosen_inline_result"), UPDATE_DEADLINE_S)
    inline_id = chosen["chosen_inline_result"]["inline_message_id"]

    sent = page.get_by_test_id("target-messages").get_by_test_id("target-msg")
    expect(sent).to_have_count(1)
    expect(sent.get_by_test_id("msg-text")).to_have_text("⏳ 0%")
    expect(sent.get_by_test_id("msg-via")).to_contain_text("@sandbox_bot")
    sent.evaluate("node => { node.sandboxMark = 'same element'; }")  # a property, not an attribute

    bot.call("editMessageText", inline_message_id=inline_id, text="⏳ 60%", reply_markup=keyboard)
    expect(sent.get_by_test_id("msg-text")).to_have_text("⏳ 60%")
    bot.call(
        "editMessageMedia", inline_message_id=inline_id, media={"type": "video", "media": video_id, "caption": "✅"}
    )
    expect(sent.locator('video[data-testid="media-video"]')).to_be_visible()
    expect(sent.get_by_test_id("msg-text")).to_have_text("✅")
    assert sent.evaluate("node => node.sandboxMark") == "same element"  # edited in place, not drawn anew
    expect(sent.get_by_test_id("msg-edited")).to_be_visible()
    assert (
        page.locator('[data-testid="msg"][data-message-id]').filter(has_text="✅").count() == 0
    )  # not in the bot chat
