"""The operator's download proxies (DOWNLOAD_PROXY_URL), used in turn; a failing one rests.

A pure class: the clock is injected, so the tests script time. The egress proxy asks `next()`
for each upstream connection and reports `failed(url)` when the proxy itself let it down
(unreachable, refused our credentials, spoke nonsense), not when the target was down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

__all__ = ["ProxyRotation", "redact_proxy"]


class ProxyRotation:
    """Round robin over `urls`, skipping the ones set aside after a failure."""

    def __init__(self, urls: Sequence[str], set_aside_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if set_aside_s < 0:
            raise ValueError("set_aside_s must not be negative")
        self.urls: tuple[str, ...] = tuple(dict.fromkeys(urls))  # a proxy listed twice is one proxy
        self.set_aside_s = set_aside_s
        self._clock = clock
        self._turn = 0
        self._back_at: dict[str, float] = {}  # url -> when it may be used again

    def __len__(self) -> int:
        return len(self.urls)

    def next(self) -> str | None:
        """The next usable proxy in turn, or None when there are none or all are resting."""
        now = self._clock()
        for _ in range(len(self.urls)):
            url = self.urls[self._turn]
            self._turn = (self._turn + 1) % len(self.urls)
            back_at = self._back_at.get(url)
            if back_at is None or now >= back_at:
                self._back_at.pop(url, None)
                return url
        return None

    def failed(self, url: str) -> None:
        """Set `url` aside for `set_aside_s` from now (a second failure restarts the rest)."""
        if url in self.urls:
            self._back_at[url] = self._clock() + self.set_aside_s

    def resting(self) -> list[str]:
        """The proxies set aside right now, in list order."""
        now = self._clock()
        return [u for u in self.urls if self._back_at.get(u, now) > now]


def redact_proxy(url: str) -> str:
    """scheme://host:port of a proxy URL: never its user name or password (for logs)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or '?'}{port}"
    except ValueError:
        return "<unparsable proxy URL>"
