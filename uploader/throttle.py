"""The send budget: Telegram's limits as sliding windows, and FloodWait pauses.

A sliding window (at most N sends in any `window` seconds) is what Telegram and the sandbox
measure, so staying inside it never earns a 429; a token bucket of the same rate would allow a
full burst right after a full second and overshoot.
"""

from __future__ import annotations

from collections import deque

import trio

from core.config import Settings

# Sends reach Telegram a little later than we count them; keep this much slack per window.
WINDOW_MARGIN = 0.05
MAX_TRACKED_CHATS = 10_000


class SlidingWindow:
    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window + WINDOW_MARGIN
        self.times: deque[float] = deque()
        self.paused_until = 0.0

    def wait_time(self, now: float) -> float:
        while self.times and now - self.times[0] >= self.window:
            self.times.popleft()
        wait = self.paused_until - now
        if len(self.times) >= self.limit:
            wait = max(wait, self.times[0] + self.window - now)
        return max(wait, 0.0)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, trio.current_time() + seconds)


class Throttle:
    """One global window and one per chat; `acquire(chat)` returns when a send is allowed."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.glob = SlidingWindow(max(1, round(settings.tg_global_rate)), 1.0)
        self.chats: dict[int, SlidingWindow] = {}
        self.lock = trio.Lock()  # fair: senders pass the global window in the order they came

    def chat(self, chat_id: int) -> SlidingWindow:
        window = self.chats.get(chat_id)
        if window is None:
            if len(self.chats) >= MAX_TRACKED_CHATS:  # forget idle chats so the map stays small
                now = trio.current_time()
                self.chats = {k: w for k, w in self.chats.items() if w.wait_time(now) > 0 or w.times}
            if chat_id < 0:  # groups and channels
                window = SlidingWindow(self.settings.tg_group_per_min, 60.0)
            else:
                burst = self.settings.tg_chat_burst
                window = SlidingWindow(burst, burst / self.settings.tg_chat_rate)
            self.chats[chat_id] = window
        return window

    async def acquire(self, chat_id: int) -> None:
        chat = self.chat(chat_id)
        while True:
            # Wait for the chat without holding the global line, so one busy chat delays no other.
            await trio.sleep(chat.wait_time(trio.current_time()))
            async with self.lock:
                while (wait := self.glob.wait_time(trio.current_time())) > 0:
                    await trio.sleep(wait)
                now = trio.current_time()
                if chat.wait_time(now) <= 0:
                    self.glob.times.append(now)
                    chat.times.append(now)
                    return

    def flood(self, chat_id: int, seconds: float, scope: str) -> None:
        """Telegram said wait: pause exactly that long (the chat, or everything)."""
        (self.chat(chat_id) if scope == "chat" else self.glob).pause(seconds)
