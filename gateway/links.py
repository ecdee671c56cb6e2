"""Finding links in a message (interim: the full module replaces it)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.telegram import Entity

_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)


@dataclass(frozen=True)
class LinkList:
    links: list[str]
    found: int


def find_links(text: str, entities: Sequence[Entity], limit: int) -> LinkList:
    urls = [e.url for e in entities if e.type == "text_link" and e.url]
    urls += [m.group(0).rstrip(".,)!?") for m in _URL.finditer(text)]
    unique = list(dict.fromkeys(urls))
    return LinkList(unique[:limit], len(unique))
