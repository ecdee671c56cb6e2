"""The hostile corpus (`tests/data/hostile_corpus.jsonl`): reading it, acting each entry out as a
user of the sandbox, and judging what the user saw against what the entry expects.

One entry per line, each acted by a user of its own (so that once-a-minute notices and rate
limits never mix entries up):

    {"id": slug, "why": one line, "lang": "fa" | "en" (the user's language_code),
     "text": the message (or "caption": a photo's caption), "first_name": the user's name,
     "entities": [{"type": "text_link", "on": words of the text, "url": ...}],
     "repeat": N, "join": str     the text is N copies of itself ({i} = 1..N) joined by `join`;
     "text_links_each": url       with repeat: each copy is a text_link to the url ({i} too);
     "burst": N                   the message is sent N times;
     "default": "best" | "audio"  saved in /settings before the message (no question then);
     "press": {"menu": "/settings", "data": str, "sign": bool}: a press of `data` on the menu's
              message (a modified client; "sign": signed with the bot's own key), or
              {"replay": "twice" | "after_done" | "cancel_after_done" | "stolen_choice" | "stolen_cancel"};
     "expect": {"files": N, "says": [text key | {"key", "values"}], "callbacks": [text key],
                "caption_has": str, "choice_has": str}}

`says` is every message the user sees when all is over, files aside; `callbacks` the answers to
the entry's presses (both in any order: answers to two presses travel side by side). A text key
matches the text in the user's language with any values, unless the entry gives them.
`caption_has` / `choice_has`: what a file's caption / the choice offered shows literally.

Strings hold placeholders, expanded once the bot runs: {sandbox} (its origin), {sandbox_port},
{canary_port}, {canary6_port} (loopback servers that must never be reached), {trap} (a folder
nothing may be written to), {victim} and {victim_job} (a user whose waiting job nobody else may
touch), {bot_username}, {i}; and functions: {q:s} (s percent-encoded), {repeat:s:N}, and forged
callback data {other_key:d}, {truncated:d}, {flipped:d}, {extra_arg:d} (d made with another key,
cut short, with a byte of its signature changed, with an argument added).
"""

from __future__ import annotations

import html
import json
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core.callback_data import CallbackCodec
from core.texts import LANGUAGES

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hostile_corpus.jsonl"
OTHER_KEY = b"a key that is not the bot's own, 32+ bytes long"
TAG = re.compile(r"<[^>]+>")


def load(path: Path = CORPUS) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    return entries


# ---- placeholders ---------------------------------------------------------------------------------


@dataclass
class Expander:
    """Fills in an entry's placeholders (see the module's docstring)."""

    values: Mapping[str, str]
    codec: CallbackCodec

    def __call__(self, template: str, i: int | None = None) -> str:
        out, pos = [], 0
        while (start := template.find("{", pos)) >= 0:
            end = _closing(template, start)
            out.append(template[pos:start])
            out.append(self._one(template[start + 1 : end], i))
            pos = end + 1
        out.append(template[pos:])
        return "".join(out)

    def _one(self, inner: str, i: int | None) -> str:
        name, colon, arg = inner.partition(":")
        if not colon:
            if name == "i" and i is not None:
                return str(i)
            return self.values[name]
        arg = self(arg, i)
        functions: dict[str, Callable[[str], str]] = {
            "q": lambda s: quote(s, safe=""),
            "repeat": lambda s: s.rpartition(":")[0] * int(s.rpartition(":")[2]),
            "other_key": lambda s: sign(CallbackCodec(OTHER_KEY), s),
            "truncated": lambda s: sign(self.codec, s)[:-3],
            "flipped": lambda s: _flip(sign(self.codec, s)),
            "extra_arg": lambda s: (lambda d: d[: d.rindex("|")] + "|1" + d[d.rindex("|") :])(sign(self.codec, s)),
        }
        return functions[name](arg)


def _closing(template: str, start: int) -> int:
    depth = 0
    for k in range(start, len(template)):
        depth += {"{": 1, "}": -1}.get(template[k], 0)
        if depth == 0:
            return k
    raise ValueError(f"unbalanced braces in {template[:80]!r}")


def _flip(data: str) -> str:
    last = data[-1]
    return data[:-1] + ("A" if last != "A" else "B")


def sign(codec: CallbackCodec, data: str) -> str:
    """`a|b|3` signed as the bot signs its buttons (ints as ints)."""
    action, *args = data.split("|")
    return codec.encode(action, *(int(a) if re.fullmatch(r"-?\d+", a) else a for a in args))


def message_of(entry: dict[str, Any], expand: Expander) -> dict[str, Any]:
    """The body of POST /sandbox/users/{id}/messages for the entry."""
    body: dict[str, Any] = {}
    repeat = entry.get("repeat")
    if repeat:
        pieces = [expand(entry["text"], i) for i in range(1, repeat + 1)]
        body["text"] = entry.get("join", " ").join(pieces)
        if "text_links_each" in entry:
            body["entities"] = _each_links(pieces, entry.get("join", " "), entry["text_links_each"], expand)
    elif "caption" in entry:
        body["caption"] = expand(entry["caption"])
    elif "text" in entry:
        body["text"] = expand(entry["text"])
    if "entities" in entry:
        words = body.get("text") or body.get("caption") or ""
        body["entities"] = [_entity(e, words, expand) for e in entry["entities"]]
    if "first_name" in entry:
        body["first_name"] = entry["first_name"]
    return body


def _entity(spec: dict[str, Any], words: str, expand: Expander) -> dict[str, Any]:
    at = words.index(spec["on"])
    out = {"type": spec["type"], "offset": _utf16(words[:at]), "length": _utf16(spec["on"])}
    if "url" in spec:
        out["url"] = expand(spec["url"])
    return out


def _each_links(pieces: list[str], join: str, url: str, expand: Expander) -> list[dict[str, Any]]:
    out, offset = [], 0
    for i, piece in enumerate(pieces, start=1):
        out.append({"type": "text_link", "offset": offset, "length": _utf16(piece), "url": expand(url, i)})
        offset += _utf16(piece + join)
    return out


def _utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


# ---- what the user saw ----------------------------------------------------------------------------


def plain(template: str) -> str:
    """A text as the user sees it: tags gone, references resolved (the texts are HTML)."""
    return html.unescape(TAG.sub("", template))


@dataclass(frozen=True)
class Said:
    """One expected message: a text key, and the values the entry pins down (None: any)."""

    key: str
    values: Mapping[str, object] | None = None

    def matches(self, lang: str, shown: str, texts: Callable[..., str]) -> bool:
        if self.values is not None:  # a value is shown literally: escaped into the HTML, as the bot must
            values = {k: html.escape(v, quote=False) if isinstance(v, str) else v for k, v in self.values.items()}
            return plain(texts(lang, self.key, **values)) == shown
        return _pattern(lang, self.key).fullmatch(shown) is not None


def _pattern(lang: str, key: str) -> re.Pattern[str]:
    """The text `key` with any values: each {field} stands for anything. `a+b` is a message made
    of the texts a and b, a line apart (the /settings menu: its formats, then its media)."""
    parts = []
    for number, one in enumerate(key.split("+")):
        if number:
            parts.append(re.escape("\n"))
        for literal, name, _, _ in string.Formatter().parse(LANGUAGES[lang][one]):
            parts.append(re.escape(plain(literal)))
            if name is not None:
                parts.append("(?s:.*)")
    return re.compile("".join(parts), re.DOTALL)


def said(spec: str | dict[str, Any], expand: Expander) -> Said:
    if isinstance(spec, str):
        return Said(spec)
    values = {k: expand(v) if isinstance(v, str) else v for k, v in spec.get("values", {}).items()}
    return Said(spec["key"], values)


def key_of(lang: str, shown: str) -> str:
    """The text key a message of the bot is (for reports); "?" when none."""
    for key in LANGUAGES[lang]:
        if _pattern(lang, key).fullmatch(shown):
            return key
    return "?"


@dataclass
class Seen:
    """What an entry's user saw after the entry began."""

    files: list[dict[str, Any]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)
    choice: str = ""  # the text of the choice offered, if one was


def judge(entry: dict[str, Any], seen: Seen, expand: Expander, texts: Callable[..., str]) -> list[str]:
    """What differs from the entry's expectation (empty: all as expected)."""
    lang, expect, problems = entry.get("lang", "fa"), entry["expect"], []
    if len(seen.files) != expect.get("files", 0):
        problems.append(f"{len(seen.files)} file(s), expected {expect.get('files', 0)}")
    wanted = [said(s, expand) for s in expect.get("says", [])]
    left = list(seen.texts)
    for want in wanted:
        hit = next((t for t in left if want.matches(lang, t, texts)), None)
        if hit is None:
            problems.append(f"no message {want.key} {dict(want.values or {})}")
        else:
            left.remove(hit)
    problems += [f"unexpected message ({key_of(lang, t)}): {t[:160]!r}" for t in left]
    calls = [plain(texts(lang, key)) for key in expect.get("callbacks", [])]
    if sorted(c or "" for c in seen.callbacks) != sorted(calls):
        problems.append(f"button answers {seen.callbacks}, expected {calls}")
    if "caption_has" in expect:
        literal = expand(expect["caption_has"])
        if not any(literal in (f.get("caption") or "") for f in seen.files):
            problems.append(f"no caption shows {literal!r} literally: {[f.get('caption') for f in seen.files]}")
    if "choice_has" in expect and expand(expect["choice_has"]) not in seen.choice:
        problems.append(f"the choice does not show {expect['choice_has']!r} literally: {seen.choice!r}")
    return problems


def report(entry: dict[str, Any], seen: Seen) -> str:
    """One line: what the entry's user saw, by text key."""
    lang = entry.get("lang", "fa")
    shown = [key_of(lang, t) for t in seen.texts]
    return f"{entry['id']}: files {len(seen.files)}, says {shown}, buttons {seen.callbacks}"
