"""The strings every URL an extractor accepts must contain, read from its `_VALID_URL` patterns.

Used by core.extractor_table (in the process that builds the table, with yt-dlp loaded) so that
the gateway tests a URL only against the extractors whose required text occurs in it. Patterns
are read with the stdlib regex parser; the result is sound though not complete (see `_required`):
a requirement the reading is unsure of is left out, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]  # sre_parse's home since 3.11
from typing import Any

from core.extractor_index import FOLD

_REPEATS = (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT)

Requirement = frozenset[str]  # at least one of these (folded) strings occurs in every match
NEVER: Requirement = frozenset()  # no pattern at all (`_VALID_URL = False`): never matches
ALTERNATIVES_MAX = 64  # a requirement spelled out as more strings than this is given up
ZERO_WIDTH = (sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT)
CLASS_CHARS_MAX = 4  # a character class of at most this many letters counts as alternatives


TEXT = object()  # pseudo-opcode: a run of ASCII literals, folded, as one string


def _flatten(seq: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
    """The items of a sequence with groups opened in place (a group matches its content once)
    and adjacent ASCII literals joined into one TEXT item."""
    text: list[str] = []
    for op, av in _open_groups(seq):
        if op is sre_c.LITERAL and av < 128:
            text.append(chr(av))
            continue
        if text:
            yield TEXT, "".join(text).translate(FOLD)
            text.clear()
        yield op, av
    if text:
        yield TEXT, "".join(text).translate(FOLD)


def _open_groups(seq: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
    for op, av in seq:
        if op is sre_c.SUBPATTERN:
            yield from _open_groups(av[3])
        elif op is sre_c.ATOMIC_GROUP:
            yield from _open_groups(av)
        else:
            yield op, av


def _product(left: set[str] | None, right: set[str] | None) -> set[str] | None:
    if left is None or right is None or len(left) * len(right) > ALTERNATIVES_MAX:
        return None
    if len(right) == 1:
        (b,) = right
        return {a + b for a in left}
    return {a + b for a in left for b in right}


def _class_chars(items: list[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, av in items:
        if op is sre_c.LITERAL and av < 128:
            chars.add(chr(av).translate(FOLD))
        elif op is sre_c.RANGE and av[1] < 128 and av[1] - av[0] < CLASS_CHARS_MAX:
            chars.update(chr(c).translate(FOLD) for c in range(av[0], av[1] + 1))
        else:  # negated classes, categories (\d, \w), non-ASCII
            return None
    return chars if len(chars) <= CLASS_CHARS_MAX else None


def _exact(op: Any, av: Any) -> set[str] | None:
    """Every (folded) string this item can match, when they are few; else None."""
    if op is TEXT:
        return {av}
    if op in ZERO_WIDTH:
        return {""}
    if op is sre_c.IN:
        return _class_chars(av)
    if op is sre_c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            strings = _exact_seq(branch)
            if strings is None or len(union | strings) > ALTERNATIVES_MAX:
                return None
            union |= strings
        return union
    if op in _REPEATS and av[1] <= 1:
        strings = _exact_seq(av[2])
        return None if strings is None else strings | ({""} if av[0] == 0 else set())
    return None


def _exact_seq(seq: Iterable[tuple[Any, Any]]) -> set[str] | None:
    strings: set[str] | None = {""}
    for op, av in _flatten(seq):
        strings = _product(strings, _exact(op, av))
        if strings is None:
            return None
    return strings


def _cut(strings: set[str]) -> Requirement | None:
    """The same requirement without schemes and 'www.' (weaker, as cheap to test); None when
    one of its strings is empty, i.e. when it requires nothing."""
    cut = frozenset(x.rpartition("://")[2].removeprefix("www.") or x for x in strings)
    return None if "" in cut else cut


def _reduced(requirement: Requirement) -> Requirement:
    """Without the strings that contain another one: that one occurs whenever they do."""
    kept: list[str] = []
    for x in sorted(requirement, key=len):
        if not any(y in x for y in kept):
            kept.append(x)
    return frozenset(kept)


def _required(seq: Iterable[tuple[Any, Any]]) -> list[Requirement]:
    """Requirements every match of this parsed sequence meets. Adjacent items that match one of a
    few known strings are multiplied out ('(?:www\\.)?(?:abc|xyz)\\.com' gives abc.com, xyz.com);
    a repeat of at least one holds what its item requires; alternatives, one requirement of each
    branch. Anything else ends a run, so the result is sound though not complete."""
    found: list[Requirement] = []
    run: set[str] = {""}

    def end_run() -> None:
        requirement = _cut(run)
        if requirement:
            found.append(requirement)

    for op, av in _flatten(seq):
        strings = _exact(op, av)
        longer = _product(run, strings)
        if longer is not None:
            run = longer
            continue
        end_run()
        run = strings if strings is not None else {""}
        if strings is not None:
            continue
        if op in _REPEATS and av[0] >= 1:
            found += _required(av[2])
        elif op is sre_c.BRANCH:
            branches = [_best(_required(b)) for b in av[1]]
            if all(branches) and (union := _cut(set().union(*branches))):  # type: ignore[arg-type]
                found.append(union)
    end_run()
    return found


def _weight(string: str) -> int:
    """How selective a required string is: its length, or 0 for what nearly every link has."""
    return 0 if string in "https://www." or string in "http://www." else len(string)


def _best(requirements: Sequence[Requirement]) -> Requirement | None:
    """The most selective requirement: the heaviest lightest string, then the fewest strings."""
    return max(requirements, key=lambda r: (min(map(_weight, r)), -len(r)), default=None)


def requirement(patterns: Sequence[str]) -> Requirement | None:
    """What every URL one of these patterns matches contains (none: NEVER); None if unknown."""
    union: set[str] = set()
    for pattern in patterns:
        try:
            best = _best(_required(sre_parse.parse(pattern)))
        except (re.error, TypeError, RecursionError):
            return None
        if best is None:
            return None
        union |= best
    return _reduced(frozenset(union))
