"""Counters behind `GET /sandbox/stats`: what the bot asked, what it got, what was injected."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)  # Bot API calls per method
    responses: Counter[int] = field(default_factory=Counter)  # Bot API answers per HTTP status
    flood_waits: int = 0  # 429s given, forced ones included
    sends: int = 0  # sends and edits let through
    bytes_uploaded: int = 0  # file bytes received in uploads
    updates_delivered: int = 0
    media_requests: Counter[str] = field(default_factory=Counter)  # GET /media/... per path
    media_requests_total: int = 0
    sends_per_chat: Counter[int] = field(default_factory=Counter)  # messages the bot posted, per chat
    copies_per_chat: Counter[int] = field(default_factory=Counter)  # copyMessage deliveries, per chat
    abandoned: Counter[str] = field(default_factory=Counter)  # calls whose client left before they completed
    faults: Counter[str] = field(
        default_factory=lambda: Counter({"failed": 0, "dropped": 0, "delayed": 0, "forced_floods": 0})
    )

    def count_media(self, path: str) -> None:
        self.media_requests[path] += 1
        self.media_requests_total += 1

    def to_json(self, peak_send_rate: int) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "responses": {str(code): n for code, n in sorted(self.responses.items())},
            "flood_waits": self.flood_waits,
            "sends": self.sends,
            "peak_send_rate": peak_send_rate,
            "bytes_uploaded": self.bytes_uploaded,
            "updates_delivered": self.updates_delivered,
            "media_requests": dict(self.media_requests),
            "media_requests_total": self.media_requests_total,
            "sends_per_chat": {str(chat_id): n for chat_id, n in self.sends_per_chat.items()},
            "copies_per_chat": {str(chat_id): n for chat_id, n in self.copies_per_chat.items()},
            "abandoned": dict(self.abandoned),
            "faults": dict(self.faults),
        }
