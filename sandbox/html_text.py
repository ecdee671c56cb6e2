"""Telegram's `parse_mode=HTML`: the supported tag subset, turned into plain text and entities.

The rules and the error texts follow Telegram's own parser (TDLib `parse_html`): only the listed
tags, `&lt; &gt; &amp; &quot;` and numeric character references; every start tag closed by its
own end tag; offsets in the error texts are UTF-8 byte offsets into the source. The Bot API puts
"Bad Request: can't parse entities: " in front of each.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from sandbox.entities import Entity, sort_entities, utf16_len
from sandbox.errors import ApiError, bad_request

TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_REFERENCES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL = re.compile(r"[<&]")
_REFERENCE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_URL_LIKE = re.compile(r"(?i)^(?:(?:https?|ftp|tg|mailto)://\S+|(?:[a-z0-9-]+\.)+[a-z]{2,}(?:[/?#]\S*)?)$")
MAX_CODE_POINT = 0x10FFFF


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the result
    text_start: int  # index into the result's pieces (for `<a>` without href)


def _error(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8"))


def _decode_reference(source: str, at: int) -> tuple[str, int] | None:
    """The character a reference at `at` stands for and its length, or None to keep '&' literally."""
    match = _REFERENCE.match(source, at)
    if match is None:
        return None
    name, decimal, hexadecimal = match.groups()
    if name:
        return NAMED_REFERENCES[name], match.end() - at
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code == 0 or code > MAX_CODE_POINT or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end() - at


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pieces: list[str] = []
        self.units = 0  # UTF-16 length of the result so far
        self.stack: list[_Open] = []
        self.entities: list[Entity] = []

    def emit(self, text: str) -> None:
        if text:
            self.pieces.append(text)
            self.units += utf16_len(text)

    def run(self) -> tuple[str, list[Entity]]:
        source, i = self.source, 0
        while i < len(source):
            special = _SPECIAL.search(source, i)
            if special is None:
                self.emit(source[i:])
                break
            self.emit(source[i : special.start()])
            i = special.start()
            if source[i] == "&":
                decoded = _decode_reference(source, i)
                if decoded is None:
                    self.emit("&")
                    i += 1
                else:
                    self.emit(decoded[0])
                    i += decoded[1]
            elif source.startswith("</", i):
                i = self.end_tag(i)
            else:
                i = self.start_tag(i)
        if self.stack:
            raise _error(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        return "".join(self.pieces), sort_entities(self.entities)

    def _skip_spaces(self, i: int) -> int:
        while i < len(self.source) and self.source[i].isspace():
            i += 1
        return i

    def start_tag(self, begin: int) -> int:
        source, at = self.source, _byte_offset(self.source, begin)
        i = begin + 1
        while i < len(source) and not source[i].isspace() and source[i] != ">":
            i += 1
        if i >= len(source):
            raise _error(f"Unclosed start tag at byte offset {at}")
        tag = source[begin + 1 : i].lower()
        if tag not in TAG_ENTITY:
            raise _error(f'Unsupported start tag "{tag}" at byte offset {at}')
        argument = ""
        while True:
            i = self._skip_spaces(i)
            if i >= len(source):
                raise _error(f'Unclosed start tag "{tag}" at byte offset {at}')
            if source[i] == ">":
                break
            name_start = i
            while i < len(source) and not source[i].isspace() and source[i] not in "=>":
                i += 1
            name = source[name_start:i].lower()
            i = self._skip_spaces(i)
            if i >= len(source) or source[i] != "=":
                if tag == "blockquote" and name == "expandable":
                    argument = "expandable"
                    continue
                raise _error(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {at}'
                )
            i, value = self._attribute_value(self._skip_spaces(i + 1), tag, at)
            argument = self._argument(tag, name, value, argument)
        if tag == "span" and argument != "spoiler":
            raise _error(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        self.stack.append(_Open(tag, argument, self.units, len(self.pieces)))
        return i + 1

    def _attribute_value(self, i: int, tag: str, at: int) -> tuple[int, str]:
        source = self.source
        if i >= len(source):
            raise _error(f'Unclosed start tag "{tag}" at byte offset {at}')
        quote = source[i]
        if quote in "'\"":
            end = source.find(quote, i + 1)
            if end < 0:
                raise _error(f"Unclosed start tag at byte offset {at}")
            return end + 1, html.unescape(source[i + 1 : end])
        start = i
        while i < len(source) and (source[i].isalnum() or source[i] in ".-_:/?=&#%+~"):
            i += 1
        if i < len(source) and not source[i].isspace() and source[i] != ">":
            raise _error(f"Unexpected end of name token at byte offset {_byte_offset(source, i)}")
        return i, source[start:i]

    @staticmethod
    def _argument(tag: str, name: str, value: str, current: str) -> str:
        if tag == "a" and name == "href":
            return value.strip()
        if tag == "code" and name == "class" and value.startswith("language-"):
            return value[len("language-") :]
        if tag == "span" and name == "class" and value.startswith("tg-"):
            return value[len("tg-") :]
        if tag == "tg-emoji" and name == "emoji-id":
            return value
        return current

    def end_tag(self, begin: int) -> int:
        source, at = self.source, _byte_offset(self.source, begin)
        if not self.stack:
            raise _error(f"Unexpected end tag at byte offset {at}")
        i = begin + 2
        while i < len(source) and not source[i].isspace() and source[i] != ">":
            i += 1
        name = source[begin + 2 : i].lower()
        i = self._skip_spaces(i)
        if i >= len(source) or source[i] != ">":
            raise _error(f"Unclosed end tag at byte offset {at}")
        opened = self.stack.pop()
        if name and name != opened.tag:
            raise _error(f'Unmatched end tag at byte offset {at}, expected "</{opened.tag}>", found "</{name}>"')
        self._close(opened)
        return i + 1

    def _close(self, opened: _Open) -> None:
        length = self.units - opened.offset
        if length <= 0:
            return
        entity: Entity = {"type": TAG_ENTITY[opened.tag], "offset": opened.offset, "length": length}
        if opened.tag == "a":
            url = opened.argument or "".join(self.pieces[opened.text_start :])
            if not _URL_LIKE.match(url):
                return  # Telegram silently drops links it cannot make sense of
            entity["url"] = url
        elif opened.tag == "code" and opened.argument:
            entity["language"] = opened.argument
        elif opened.tag == "tg-emoji":
            if not opened.argument.isdigit():
                return
            entity["custom_emoji_id"] = opened.argument
        elif opened.tag == "blockquote" and opened.argument == "expandable":
            entity["type"] = "expandable_blockquote"
        elif opened.tag == "pre":
            self._merge_code_into_pre(entity)
        self.entities.append(entity)

    def _merge_code_into_pre(self, pre: Entity) -> None:
        """`<pre><code class="language-x">` is one pre entity with a language."""
        for inner in self.entities:
            same_span = inner["offset"] == pre["offset"] and inner["length"] == pre["length"]
            if inner["type"] == "code" and same_span:
                self.entities.remove(inner)
                if "language" in inner:
                    pre["language"] = inner["language"]
                return


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of an HTML-formatted text; `ApiError` 400 for what Telegram refuses."""
    return _Parser(source).run()
