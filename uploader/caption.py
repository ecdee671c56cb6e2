"""Captions (interim: the full module replaces it)."""

from __future__ import annotations

import html

from core.texts import digits, text

CAPTION_LIMIT = 1024


def build_caption(
    title: str | None, source_url: str | None, signature: str, *, part: tuple[int, int] | None = None, lang: str = "fa"
) -> str:
    lines = []
    if title:
        lines.append(html.escape(title[:900], quote=False))
    if part is not None and part[1] > 1:
        lines.append(f"{digits(lang, part[0])}/{digits(lang, part[1])}")
    if source_url and source_url.startswith(("http://", "https://")):
        lines.append(f'<a href="{html.escape(source_url, quote=True)}">{text(lang, "caption_source")}</a>')
    if signature:
        lines.append(html.escape(signature, quote=False))
    return "\n".join(lines)
