"""Image posts (galleries) as the gateway, the downloaders and the uploader all see them: their
format keys, the user's choice among them, and how a post's items are cut into Telegram albums.

Keys (a post's cache key is its media key and one of these; `core.formats` has the others):
- `g:all`: every item of the post, in its order;
- `g:photos`: its pictures only; `g:videos`: its videos only (offered when a post mixes them).

A post's items go as albums of at most MAX_ALBUM_ITEMS, in order: photos and videos together,
documents (pictures Telegram will not show as photos) only with documents; an album of one is a
plain message. The media cache keeps one row per item (`part` = its place among the items sent,
`parts` = how many), so a post sent again is cut the same way from its rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from ipc.messages import FormatChoice, Probe

ALL = "g:all"
PHOTOS = "g:photos"
VIDEOS = "g:videos"
KEYS = (ALL, PHOTOS, VIDEOS)
ASK = "ask"
DEFAULT_CHOICES = (ASK, ALL, PHOTOS, VIDEOS)  # what /settings offers as the saved answer
GALLERY = "gallery"  # Probe.kind of an image post
MAX_ALBUM_ITEMS = 10  # Telegram's album
BUTTON_KEYS = {ALL: "button_album_all", PHOTOS: "button_album_photos", VIDEOS: "button_album_videos"}  # core.texts
NAME_KEYS = {ASK: "format_ask", ALL: "album_all", PHOTOS: "album_photos", VIDEOS: "album_videos"}
KINDS_OF = {PHOTOS: frozenset({"photo", "document"}), VIDEOS: frozenset({"video"})}  # what each key keeps


def is_key(key: str | None) -> bool:
    return key in KEYS


def keeps(key: str, kind: str) -> bool:
    """Whether an item of `kind` (photo, video, document) belongs to the choice `key`."""
    return key not in KINDS_OF or kind in KINDS_OF[key]


def gallery_probe(title: str, platform: str, kinds: Sequence[str], webpage_url: str = "") -> Probe:
    """The probe of a post whose items are (as far as their links tell) of `kinds`: the choice of
    photos, videos or everything when it mixes them, else everything."""
    mixed = any(k == "video" for k in kinds) and any(k != "video" for k in kinds)
    choices = [FormatChoice(key=ALL)] + ([FormatChoice(key=PHOTOS), FormatChoice(key=VIDEOS)] if mixed else [])
    return Probe(
        kind=GALLERY,
        title=title,
        platform=platform,
        webpage_url=webpage_url,
        choices=choices,
        entry_count=len(kinds),
    )


def resolve(request: str | None, saved: str, probe: Probe) -> str | None:
    """The key for a post: the job's own request if it is one of ours, else the user's saved
    answer; None when the user must be asked (a mixed post and no answer saved)."""
    offered = [c.key for c in probe.choices]
    for wanted in (request, saved):
        if wanted in offered:
            return wanted
    if len(offered) == 1:
        return offered[0]
    return None


def group(kinds: Sequence[str]) -> list[list[int]]:
    """The indexes of `kinds` as albums, in order (see the module docstring)."""
    out: list[list[int]] = []
    for index, kind in enumerate(kinds):
        last = out[-1] if out else None
        if last is not None and len(last) < MAX_ALBUM_ITEMS and (kinds[last[0]] == "document") == (kind == "document"):
            last.append(index)
        else:
            out.append([index])
    return out
