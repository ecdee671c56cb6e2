"""An image post's sends: its items, from the spool or the media cache, cut into albums.

The post's text is the title of its first send (the uploader puts it in the first item's
caption); the sends after it carry only the source. Each item keeps its place in the post as its
`part`, which is where its file_id goes in the media cache, so the post sent again from the cache
is cut into the same albums (`core.albums.group`).
"""

from __future__ import annotations

from core import albums
from core.payloads import AlbumItem, SendMedia


def sends(
    items: list[AlbumItem],
    *,
    title: str,
    reply_to: int | None,
    media_key: str,
    format_key: str,
    source_url: str,
    spool_dir: str = "",
) -> list[SendMedia]:
    """One send per album (or per lone item), in the post's order."""
    out: list[SendMedia] = []
    for number, indexes in enumerate(albums.group([i.kind for i in items])):
        chosen = [items[i] for i in indexes]
        first = chosen[0]
        alone = len(chosen) == 1
        out.append(
            SendMedia(
                kind=first.kind if alone else "album",
                path=first.path,
                file_id=first.file_id if alone else "",
                thumbnail=first.thumbnail if alone else "",
                duration=first.duration if alone else 0,
                width=first.width if alone else 0,
                height=first.height if alone else 0,
                title=title if number == 0 else "",
                reply_to=reply_to,
                media_key=media_key,
                format_key=format_key,
                part=first.part,
                parts=len(items),
                source_url=source_url,
                spool_dir=spool_dir,
                album=[] if alone else chosen,
            )
        )
    return out
