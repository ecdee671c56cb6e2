"""The soak's load: users who send links of every kind, drawn from a seeded plan.

Each link is its own message (so a message id names one job). The kinds:

- `file`: a plain file of its own size (`blob`): no question asked, no ffmpeg;
- `video`: sample.mp4 of its own (a query of its own): the user's default quality, then ffmpeg;
- `shared`: one blob that several users send about together (the cache and single flight);
- `large`: a blob over MAX_FILE_MB (a polite "too large");
- `ssrf`: a private or internal address (the egress guard's refusal);
- `flaky`: a video whose first request answers 503 (the media side's 5xx, retried);
- `cancel`: a slow download the user cancels with the status message's button once it runs;
- `album`: an image post of three pictures (gallery-dl), sent as one album.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from core.jobstates import FINAL
from core.texts import text
from tests.support.bot import BotProcess, Chat, buttons
from tests.support.journey import set_default
from tests.support.poll import until

FILE_SIZES = (40_000, 250_000)  # bytes of a `file` blob, drawn between these
SHARED_BYTES = 180_000
SHARED_USERS = 3  # users per shared link
CANCEL_BYTES, CANCEL_RATE = 600_000, 60_000  # ten seconds of download: long enough to cancel
ANSWER_TIMEOUT_S = 120.0  # a cancel waits this long for its job to run (kills and stops included)
SSRF_TARGETS = (
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:22/v.mp4",
    "http://[::1]/v.mp4",
    "http://10.0.0.7/v.mp4",
    "http://0x7f000001/v.mp4",
)
# The share of each kind in the plan (what is left over is `file`).
SHARES = {"video": 0.10, "shared": 0.15, "large": 0.06, "ssrf": 0.08, "flaky": 0.05, "cancel": 0.08, "album": 0.05}
ALBUM_IMAGES = 3


@dataclass(frozen=True)
class Link:
    kind: str
    url: str


@dataclass
class UserPlan:
    user_id: int
    lang: str
    start_s: float  # when the user begins, after the load starts
    links: list[Link]
    gaps: list[float]  # seconds after each link before the next


@dataclass
class Sent:
    user_id: int
    message_id: int
    link: Link
    at: float


@dataclass
class Record:
    """What the users did, for the verdict."""

    sent: list[Sent] = field(default_factory=list)
    cancels_pressed: int = 0
    cancels_missed: list[str] = field(default_factory=list)  # why a cancel was not pressed
    last_message: dict[int, int] = field(default_factory=dict)  # user -> their last message id

    def kinds(self) -> Counter[str]:
        return Counter(s.link.kind for s in self.sent)


def make_plan(
    rng: random.Random, base: str, tag: str, *, users: int, links: int, spread_s: float, first_user: int
) -> list[UserPlan]:
    """`links` links dealt to `users` users, each starting within `spread_s` seconds."""
    kinds = [k for k, share in SHARES.items() for _ in range(max(1, round(share * links)))]
    kinds += ["file"] * max(0, links - len(kinds))
    rng.shuffle(kinds)
    shared = 0
    dealt: list[list[Link]] = [[] for _ in range(users)]
    for n, kind in enumerate(kinds):
        if kind == "shared":  # SHARED_USERS links in turn share one URL
            url = f"{base}/media/blob?size={SHARED_BYTES}&t={tag}-shared-{shared // SHARED_USERS}"
            shared += 1
        else:
            url = _url(rng, base, f"{tag}-{n}", kind)
        dealt[n % users].append(Link(kind, url))
    plans = []
    for i, mine in enumerate(dealt):
        lang = "fa" if rng.random() < 0.3 else "en"
        gaps = [rng.uniform(0.5, 3.0) for _ in mine]
        plans.append(UserPlan(first_user + i, lang, rng.uniform(0, spread_s), mine, gaps))
    return plans


def _url(rng: random.Random, base: str, tag: str, kind: str) -> str:
    media = f"{base}/media"
    if kind == "file":
        return f"{media}/blob?size={rng.randint(*FILE_SIZES)}&t={tag}"
    if kind == "video":
        return f"{media}/sample.mp4?t={tag}"
    if kind == "large":
        return f"{media}/blob?size={3 * 1024 * 1024}&t={tag}"  # over the soak's MAX_FILE_MB
    if kind == "ssrf":
        return f"{rng.choice(SSRF_TARGETS)}?t={tag}"
    if kind == "flaky":
        return f"{media}/flaky?fail=1&key={tag}"
    if kind == "album":
        return f"{media}/gallery.html?images={ALBUM_IMAGES}&videos=0&tag={tag}"
    if kind == "cancel":
        return f"{media}/slow?size={CANCEL_BYTES}&rate={CANCEL_RATE}&t={tag}"
    raise ValueError(kind)


async def run_users(http: httpx.AsyncClient, bot: BotProcess, plans: list[UserPlan], record: Record) -> None:
    async with trio.open_nursery() as nursery:
        for plan in plans:
            nursery.start_soon(_run_user, http, bot, plan, record)


async def _run_user(http: httpx.AsyncClient, bot: BotProcess, plan: UserPlan, record: Record) -> None:
    chat = Chat(http, plan.user_id, bot, lang=plan.lang)
    await trio.sleep(plan.start_s)  # the load's pace, not a wait for anything
    await set_default(chat, text(plan.lang, "format_best"))
    async with trio.open_nursery() as nursery:
        for link, gap in zip(plan.links, plan.gaps, strict=True):
            words = link.url if plan.lang == "en" else f"لطفاً این را دانلود کن: {link.url} ممنون"
            message_id = await chat.say(words)
            record.sent.append(Sent(plan.user_id, message_id, link, trio.current_time()))
            record.last_message[plan.user_id] = message_id
            if link.kind == "cancel":
                nursery.start_soon(_cancel_when_running, chat, bot, message_id, record)
            await trio.sleep(gap)


async def _cancel_when_running(chat: Chat, bot: BotProcess, message_id: int, record: Record) -> None:
    """Press the cancel button of the job of `message_id` once its download runs."""

    def running() -> dict[str, Any] | None:
        # Handled first, then the job: a job made between the two reads is still found.
        handled = bot.query("SELECT coalesce(last_message_id, 0) FROM users WHERE id = ?", chat.user_id)
        found = bot.rows(  # the status message's id is its outbox row's, once sent
            "SELECT j.state, o.message_id AS status_message_id FROM jobs j LEFT JOIN outbox o"
            " ON o.id = j.status_outbox_id WHERE j.user_id = ? AND j.request_message_id = ? AND j.parent_id IS NULL",
            chat.user_id,
            message_id,
        )
        if not found:
            return {"over": True} if handled and handled[0][0] >= message_id else None  # refused: no job
        job = found[0]
        if job["state"] in FINAL:
            return {"over": True}
        return job if job["state"] == "downloading" and job["status_message_id"] else None

    job = await until(f"the job of message {message_id} running", running, ANSWER_TIMEOUT_S, describe=bot.log)
    if job.get("over"):
        record.cancels_missed.append(f"message {message_id}: no job running (over, or refused at the gate)")
        return
    status = next((m for m in await chat.messages() if m["message_id"] == job["status_message_id"]), None)
    cancel = next((b for b in buttons(status or {}) if b.get("callback_data", "").startswith("x|")), None)
    if status is None or cancel is None:
        record.cancels_missed.append(f"message {message_id}: no cancel button on {status}")
        return
    await chat.press(status["message_id"], cancel["callback_data"])
    record.cancels_pressed += 1
