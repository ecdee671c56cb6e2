"""The hostile corpus against the whole bot (`run.py --sandbox`, Telegram's limits on): every entry
of `tests/data/hostile_corpus.jsonl` is acted out by its own user, all at once, while a normal
user keeps sending links, one after the other. Then, at a barrier (every message handled, every job final, nothing
left to send):

- each entry's user saw what the entry expects: its files, its answers in their language, its
  button answers; no chat message of anyone holds a traceback, a file path or a secret, and the
  bot's HTML never turned a user's markup into formatting;
- the normal user heard back within NORMAL_ANSWER_BOUND_S of each link and had each file (within
  SETTLE_S): how long the files took is printed, not asserted, since it is the machine's speed (the
  corpus's hundred downloads go first, each user's first link before anyone's second);
- no loopback canary outside the sandbox's origin heard a connection;
- nothing was written in the bot's folder but the database, logs, run files and the spool, and
  the spool is empty; no process restarted and no traceback reached the log.

`--run-slow` acts the corpus out CORPUS_ROUNDS_SLOW times over, each round by new users.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import statistics
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import trio

from core.callback_data import CallbackCodec
from core.texts import text
from sandbox.render import BOT_USERNAME
from tests.e2e import corpus
from tests.e2e.answers import Canary
from tests.e2e.conftest import HTTP_TIMEOUT_S
from tests.support.bot import BotProcess, Chat, buttons
from tests.support.journey import UNFINISHED_SENDS, set_default
from tests.support.poll import until

ENV = {
    "ADMIN_IDS": "4242",
    "MAX_FILE_MB": "1",
    "PLAYLIST_MAX_ITEMS": "3",
    "JOB_RETRY_DELAY": "0.2",
    "JOB_RETRY_MAX_DELAY": "2",
    "CIRCUIT_FAILURES": "1000",  # the corpus's failures must not pause the sandbox's host
}
CORPUS_WINDOW_S = 60.0  # the corpus's users write within this window, each at a random moment
NORMAL_INTERVAL_S = 7.0  # the normal user sends a link at most this often (USER_REQUESTS_PER_MIN is 10)
NORMAL_ANSWER_BOUND_S = 5.0  # and hears back (the queue's place, or the file) within this
PREP_CONCURRENCY = 20
TELEGRAM_TEXT_CHARS = 4096
SETTLE_S = 300.0
CORPUS_ROUNDS_SLOW = 3
LEAKS = ("Traceback", 'File "', "Errno", "ERROR:", "sqlite", "yt_dlp", "yt-dlp", '.py"', "Exception")
INJECTED_HOST = "evil.example"  # the corpus's markup links there: no message of the bot may
FORMAT_LABEL = {"best": "format_best", "audio": "format_audio"}
users = itertools.count(500_000)


@pytest.fixture(scope="module")
def corpus_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    bot = BotProcess(tmp_path_factory.mktemp("corpus"), env=ENV, workers=2)
    try:
        yield bot
    finally:
        bot.stop()


@pytest.fixture
async def http(corpus_bot: BotProcess) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=corpus_bot.url, timeout=HTTP_TIMEOUT_S, limits=limits) as client:
        yield client


class Run:
    """One round of the corpus: its users, what they saw before, and the normal user's figures."""

    def __init__(self, bot: BotProcess, http: httpx.AsyncClient, expand: corpus.Expander) -> None:
        self.bot, self.http, self.expand = bot, http, expand
        self.entries = corpus.load()
        self.user = {e["id"]: next(users) for e in self.entries}
        self.menu: dict[str, int] = {}  # entry -> the message its press lands on
        self.before: dict[int, tuple[set[int], int]] = {}  # user -> (bot message ids, callback answers)
        self.last: dict[int, int] = {}  # user -> their last message id
        self.choices: dict[str, str] = {}

    def chat(self, entry: dict[str, Any], user: int | None = None) -> Chat:
        return Chat(self.http, user or self.user[entry["id"]], self.bot, lang=entry.get("lang", "fa"))

    async def view(self, user: int) -> dict[str, Any]:
        response = await self.http.get(f"/sandbox/users/{user}/chat")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def prepare(self, entry: dict[str, Any]) -> None:
        chat = self.chat(entry)
        if "default" in entry:
            await set_default(chat, text(chat.lang, FORMAT_LABEL[entry["default"]]))
        menu = (entry.get("press") or {}).get("menu")
        if menu:
            await chat.say(menu)
            self.menu[entry["id"]] = (await chat.wait_buttons())["message_id"]
        view = await self.view(chat.user_id)
        mine = {m["message_id"] for m in view["messages"] if m["from"] == "bot"}
        self.before[chat.user_id] = (mine, len(view["callback_answers"]))

    async def act(self, entry: dict[str, Any]) -> None:
        chat, press = self.chat(entry), entry.get("press") or {}
        if "menu" in press:
            data = self.expand(press["data"])
            if press.get("sign"):
                data = corpus.sign(self.expand.codec, data)
            await self.press(chat, self.menu[entry["id"]], data)
            return
        body = corpus.message_of(entry, self.expand)
        for _ in range(entry.get("burst", 1) if body else 0):
            self.last[chat.user_id] = await self.say(chat, body)
        if "replay" in press:
            await REPLAYS[press["replay"]](self, entry, chat)
        elif "choice_has" in entry["expect"]:
            offered = await chat.wait_buttons()
            self.choices[entry["id"]] = offered.get("text") or ""
            await self.press(chat, offered["message_id"], cancel_data(offered))

    async def say(self, chat: Chat, body: dict[str, Any]) -> int:
        message = {"first_name": f"User{chat.user_id}", "language_code": chat.lang, **body}
        response = await self.http.post(f"/sandbox/users/{chat.user_id}/messages", json=message)
        assert response.status_code == 200, response.text
        return int(response.json()["message_id"])

    async def press(self, chat: Chat, message_id: int, data: str, forged: bool = True) -> None:
        body = {"message_id": message_id, "data": data, "forged": forged}
        response = await self.http.post(f"/sandbox/users/{chat.user_id}/callbacks", json=body)
        assert response.status_code == 200, response.text

    async def seen(self, entry: dict[str, Any]) -> corpus.Seen:
        user = self.user[entry["id"]]
        view = await self.view(user)
        earlier, answers = self.before[user]
        out = corpus.Seen(choice=self.choices.get(entry["id"], ""))
        for m in view["messages"]:
            if m["from"] != "bot" or m["deleted"] or m["message_id"] in earlier:
                continue
            if m.get("media"):
                out.files.append(m)
            else:
                out.texts.append(m.get("text") or "")
        out.callbacks = [a.get("text") or "" for a in view["callback_answers"][answers:]]
        return out


def cancel_data(message: dict[str, Any]) -> str:
    return next(b["callback_data"] for b in buttons(message) if b.get("callback_data", "").startswith("x|"))


async def best_of(run: Run, chat: Chat) -> tuple[dict[str, Any], str]:
    """The choice offered, and its first format's button."""
    offered = await chat.wait_buttons()
    return offered, next(b["callback_data"] for b in buttons(offered) if not b["callback_data"].startswith("x|"))


async def replay_twice(run: Run, entry: dict[str, Any], chat: Chat) -> None:
    offered, data = await best_of(run, chat)
    await run.press(chat, offered["message_id"], data, forged=False)
    await run.press(chat, offered["message_id"], data, forged=True)  # the keyboard may be gone by now


async def replay_after_done(run: Run, entry: dict[str, Any], chat: Chat) -> None:
    offered, data = await best_of(run, chat)
    await run.press(chat, offered["message_id"], data, forged=False)
    [sent] = await chat.wait_files(1)
    await run.press(chat, sent["message_id"], data)


async def replay_cancel_after_done(run: Run, entry: dict[str, Any], chat: Chat) -> None:
    offered, data = await best_of(run, chat)
    cancel = cancel_data(offered)
    await run.press(chat, offered["message_id"], data, forged=False)
    [sent] = await chat.wait_files(1)
    await run.press(chat, sent["message_id"], cancel)


async def stolen_choice(run: Run, entry: dict[str, Any], chat: Chat) -> None:
    """Another user's format button pressed in one's own chat; then one's own."""
    owner = run.chat(entry, next(users))
    await owner.say(run.expand("{sandbox}/media/sample.mp4?stolen=owner"))
    _, stolen = await best_of(run, owner)
    offered, mine = await best_of(run, chat)
    await run.press(chat, offered["message_id"], stolen)
    await run.press(chat, offered["message_id"], mine, forged=False)
    await owner.press((await owner.wait_buttons())["message_id"], cancel_data(await owner.wait_buttons()))


async def stolen_cancel(run: Run, entry: dict[str, Any], chat: Chat) -> None:
    """Another user's cancel button, pressed while their slow download runs: theirs goes on."""
    owner = run.chat(entry, next(users))
    await set_default(owner, text(owner.lang, "format_best"))
    await owner.say(run.expand("{sandbox}/media/slow?rate=100000&size=400000&stolen=cancel"))
    status = await until("the owner's status", lambda: _with_cancel(owner), 60)
    mine = await until("an answer in the presser's chat", chat.bot_messages, 60)
    await run.press(chat, mine[-1]["message_id"], cancel_data(status))
    await owner.wait_files(1)


async def _with_cancel(chat: Chat) -> dict[str, Any] | None:
    for m in reversed(await chat.bot_messages()):
        if any(b.get("callback_data", "").startswith("x|") for b in buttons(m)):
            return m
    return None


REPLAYS = {
    "twice": replay_twice,
    "after_done": replay_after_done,
    "cancel_after_done": replay_cancel_after_done,
    "stolen_choice": stolen_choice,
    "stolen_cancel": stolen_cancel,
}


# ---- the barrier and the bot's folder --------------------------------------------------------------


def unsettled(bot: BotProcess, last: dict[int, int]) -> list[Any]:
    """Users whose messages are not all handled, jobs not final or sends not done (all at once)."""
    ids = ",".join(map(str, last))
    handled = dict(bot.query(f"SELECT id, coalesce(last_message_id, 0) FROM users WHERE id IN ({ids})"))
    behind = [u for u, mid in last.items() if handled.get(u, 0) < mid]
    jobs = bot.query(
        f"SELECT user_id, id, state FROM jobs WHERE user_id IN ({ids}) AND state NOT IN ('done', 'failed', 'cancelled')"
    )
    sends = bot.query(f"SELECT chat_id, id, kind FROM outbox WHERE chat_id IN ({ids}) AND state IN (?, ?)",
                      *UNFINISHED_SENDS)  # fmt: skip
    return [*(("behind", u) for u in behind), *jobs, *sends]


KEPT_APART = ("data/bot.sqlite3", "data/logs/", "data/run/", "data/spool/", "data/sandbox/", "bot.log")


def files_outside_spool(bot: BotProcess) -> dict[str, tuple[int, int]]:
    """Every file of the bot's folder but the database, logs, run files, the spool and the sandbox's
    own store (Telegram's side): path -> (size, mtime)."""
    out = {}
    for path in bot.folder.rglob("*"):
        rel = path.relative_to(bot.folder).as_posix()
        if path.is_file() and not rel.startswith(KEPT_APART):
            stat = path.stat()
            out[rel] = (stat.st_size, stat.st_mtime_ns)
    return out


# ---- the test ----------------------------------------------------------------------------------------


@dataclass
class Normal:
    """The normal user's figures: seconds from each link to the first answer and to the file."""

    answers: list[float] = field(default_factory=list)
    files: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        answers, files = self.answers, self.files
        return (
            f"the normal user's {len(files)} links: first answer median {statistics.median(answers):.1f} s, "
            f"max {max(answers):.1f} s (bound {NORMAL_ANSWER_BOUND_S:g}); file median "
            f"{statistics.median(files):.1f} s, max {max(files):.1f} s"
        )


async def normal_user(run: Run, stop: trio.Event, figures: Normal) -> None:
    """Sends a fresh small link, waits for its file, and again, at most every NORMAL_INTERVAL_S,
    until `stop`: how long each took. (As a person does: one who sent links faster than the busy
    bot delivers would queue them behind their own, and everyone's first link goes first.)"""
    chat = Chat(run.http, next(users), run.bot, lang="fa")
    await set_default(chat, text("fa", "format_best"))
    asked: list[int] = []
    for n in itertools.count():
        if stop.is_set() and len(asked) >= 3:
            break
        sent_at = trio.current_time()
        asked.append(await chat.say(run.expand(f"{{sandbox}}/media/sample.mp4?normal={chat.user_id}-{n}")))
        await chat.wait_files(len(asked), timeout=SETTLE_S)
        with trio.move_on_at(sent_at + NORMAL_INTERVAL_S):
            await stop.wait()
    chat_now = await chat.messages()
    at = {m["message_id"]: m["at"] for m in chat_now if m["from"] == "user"}
    for mid in asked:
        replies = [m for m in chat_now if m["from"] == "bot" and m["reply_to_message_id"] == mid]
        figures.answers.append(min(m["at"] for m in replies) - at[mid])
        figures.files.append(min(m["at"] for m in replies if m.get("media")) - at[mid])


async def one_round(bot: BotProcess, http: httpx.AsyncClient, nursery: trio.Nursery) -> None:
    canary = await Canary().start(nursery)
    canary6 = await Canary(host="::1").start(nursery)
    trap = bot.folder / "trap"
    codec = CallbackCodec.from_data_dir(bot.data_dir)
    victim = Chat(http, next(users), bot, lang="fa")
    await victim.say(f"{bot.url}/media/sample.mp4?victim={victim.user_id}")
    await victim.wait_buttons()
    [(victim_job,)] = bot.query("SELECT id FROM jobs WHERE user_id = ?", victim.user_id)
    values = {
        "sandbox": bot.url, "sandbox_port": bot.url.rsplit(":", 1)[1], "canary_port": str(canary.port),
        "canary6_port": str(canary6.port), "trap": str(trap), "victim": str(victim.user_id),
        "victim_job": str(victim_job), "bot_username": BOT_USERNAME,
    }  # fmt: skip
    run = Run(bot, http, corpus.Expander(values, codec))
    limiter = trio.CapacityLimiter(PREP_CONCURRENCY)

    async def prepared(entry: dict[str, Any]) -> None:
        async with limiter:
            await run.prepare(entry)

    t0 = trio.current_time()
    async with trio.open_nursery() as prep:
        for entry in run.entries:
            prep.start_soon(prepared, entry)
    print(f"\nprepared in {trio.current_time() - t0:.0f} s", flush=True)
    files_before = files_outside_spool(bot)
    normal = Normal()
    stop = trio.Event()
    seed = random.randrange(2**32)
    moments = random.Random(seed)
    print(f"the corpus's users write at random moments within {CORPUS_WINDOW_S:g} s (seed {seed})", flush=True)
    began = trio.current_time()

    async def act(entry: dict[str, Any], delay: float) -> None:
        await trio.sleep(delay)
        await run.act(entry)

    async with trio.open_nursery() as flood:
        flood.start_soon(normal_user, run, stop, normal)
        async with trio.open_nursery() as acts:
            for entry in run.entries:
                acts.start_soon(act, entry, moments.uniform(0, CORPUS_WINDOW_S))
        print(f"acted in {trio.current_time() - began:.0f} s", flush=True)
        # Updates are handled one after the other: once a last message is handled, so are all
        # the presses before it.
        sentinel = Chat(http, next(users), bot)
        run.last[sentinel.user_id] = await sentinel.say("/start")
        await until("every corpus user settled", lambda: not unsettled(bot, run.last) or None, SETTLE_S,
                    describe=lambda: f"{unsettled(bot, run.last)[:20]}\n{bot.log()}")  # fmt: skip
        stop.set()
    took = trio.current_time() - began

    problems = {}
    for entry in run.entries:
        seen = await run.seen(entry)
        if found := corpus.judge(entry, seen, run.expand, text):
            problems[entry["id"]] = found
        if os.environ.get("CORPUS_REPORT"):
            print(corpus.report(entry, seen))
    print(f"\nhostile corpus: {len(run.entries)} entries in {took:.0f} s; {normal}")
    [(state,)] = bot.query("SELECT state FROM jobs WHERE id = ?", victim_job)
    broken = {  # every promise at once, so that one run shows all that broke
        "answers": "\n".join(f"{k}: {v}" for k, v in problems.items()),
        "chats": "\n".join(await leaks_in_chats(run)),
        "canaries": canary.connections + canary6.connections,
        "trap": trap.exists(),
        "written outside the spool": _changed(files_before, files_outside_spool(bot)),
        "spool": bot.spool_files(),
        "normal user": "" if max(normal.answers) <= NORMAL_ANSWER_BOUND_S else str(normal),
        "victim": (state, bot.query("SELECT banned FROM users WHERE id = ?", victim.user_id)) != ("choosing", [(0,)]),
        "restarts": {name: p["restarts"] for name, p in bot.processes().items() if p["restarts"]},
        "log": "\n".join(line for line in bot.log_lines() if "Traceback" in line),
    }
    assert not any(broken.values()), "\n".join(f"-- {what}: {found}" for what, found in broken.items() if found)


def _changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


async def leaks_in_chats(run: Run) -> list[str]:
    """Tracebacks, paths and secrets in any chat message; markup of a user's that became formatting."""
    found = []
    secrets = [str(run.bot.data_dir), (run.bot.data_dir / "callback.key").read_bytes().hex()]
    for user in set(run.user.values()):
        for m in (await run.view(user))["messages"]:
            if m["from"] != "bot":
                continue
            shown = (m.get("text") or "") + (m.get("caption") or "")
            found += [f"{user}: {word!r} in {shown[:200]!r}" for word in (*LEAKS, *secrets) if word in shown]
            links = [e.get("url", "") for e in m.get("entities") or [] if e.get("type") == "text_link"]
            found += [f"{user}: a link to {url!r}" for url in links if urlsplit(url).hostname == INJECTED_HOST]
    return found


async def test_every_hostile_message_gets_a_sensible_answer_and_a_normal_user_is_served(corpus_bot, http, nursery):
    await one_round(corpus_bot, http, nursery)


@pytest.mark.slow
async def test_the_corpus_again_and_again(corpus_bot, http, nursery):
    for _ in range(CORPUS_ROUNDS_SLOW):
        await one_round(corpus_bot, http, nursery)


def test_the_corpus_holds_every_kind_of_hostile_message():
    entries = corpus.load()
    assert len(entries) >= 300
    ids = " ".join(e["id"] for e in entries)
    for kind in (
        "long-",
        "odd-",
        "admin-",
        "inject-",
        "cred-",
        "ctrl-",
        "many-100",
        "press-forged",
        "press-replay",
        "ip-",
        "ip6-",
        "redirect-",
        "playlist-10000",
        "live-stream",
        "title-long",
        "title-dotdot",
    ):
        assert kind in ids, kind
    persian = [e for e in entries if re.search("[\u0600-\u06ff]", e.get("text", "") + e.get("first_name", ""))]
    assert len(persian) >= len(entries) // 3
    assert all(e["why"] and "expect" in e for e in entries)
    # Each message fits Telegram's 4,096 characters, with ports and paths as long as they get.
    values = {"sandbox": "http://127.0.0.1:65535", "sandbox_port": "65535", "canary_port": "65535",
              "canary6_port": "65535", "trap": "/tmp/pytest-of-someone/pytest-999/corpus0/trap", "victim": "9" * 12,
              "victim_job": "9" * 9, "bot_username": BOT_USERNAME}  # fmt: skip
    expand = corpus.Expander(values, CallbackCodec(b"k" * 32))
    too_long = [e["id"] for e in entries if len(corpus.message_of(e, expand).get("text", "")) > TELEGRAM_TEXT_CHARS]
    assert not too_long


def test_placeholders_are_filled_in(tmp_path: Path):
    codec = CallbackCodec(b"k" * 32)
    expand = corpus.Expander({"sandbox": "http://127.0.0.1:9", "trap": "/t"}, codec)
    assert (
        expand("{sandbox}/r?to={q:{sandbox}/x?a=1&b={q:/}}")
        == "http://127.0.0.1:9/r?to=http%3A%2F%2F127.0.0.1%3A9%2Fx%3Fa%3D1%26b%3D%252F"
    )
    assert expand("{repeat:ab:3}|{repeat:../:2}x{trap}") == "ababab|../../x/t"
    assert codec.decode(expand("{truncated:s|f|1}")) is None and codec.decode(expand("{flipped:s|f|1}")) is None
    assert codec.decode(expand("{extra_arg:s|f|1}")) is None and codec.decode(expand("{other_key:s|f|1}")) is None
    assert codec.decode(corpus.sign(codec, "s|f|1")) is not None
    body = corpus.message_of({"text": "w{i}", "repeat": 2, "join": " 😀 ", "text_links_each": "{sandbox}/{i}"}, expand)
    assert body["text"] == "w1 😀 w2"
    assert [(e["offset"], e["length"], e["url"]) for e in body["entities"]] == [
        (0, 2, "http://127.0.0.1:9/1"),
        (6, 2, "http://127.0.0.1:9/2"),
    ]
