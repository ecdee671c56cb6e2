"""yt-dlp's extractors, indexed so that finding the one for a URL costs a fraction of a millisecond.

Testing ~1750 extractors one by one costs 5-10 ms a URL (Python's regex cache holds 512 patterns,
so it recompiles). `prepare()` (once, in a thread at start; otherwise the first call pays) files
each extractor under literal text every match of its `_VALID_URL` must contain, read with the
stdlib regex parser; a URL is tested only against the extractors whose required text occurs in
it, in yt-dlp's order, by their own `suitable()`. That is exactly the naive loop's answer (the
tests compare the two on yt-dlp's own test URLs); see `_required`.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]  # sre_parse's home since 3.11
from typing import Any

log = logging.getLogger("media_keys.index")

GENERIC = "Generic"

# ---- the extractor index -------------------------------------------------------------------------

# Python's case-insensitive matching equates these non-ASCII characters with ASCII letters; folding
# URLs and literals alike with this table keeps "literal occurs" sound under IGNORECASE.
# (tests/gateway/test_media_keys.py checks the table against the re engine over every code point.)
FOLD_EXTRA = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_FOLD = str.maketrans({**{chr(c): chr(c + 32) for c in range(65, 91)}, **FOLD_EXTRA})
GRAM = 4  # literals are looked up by one of their 4-character pieces; shorter ones are scanned
_REPEATS = (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT)

Extractor = type[Any]  # a yt-dlp extractor class (lazy or real); yt-dlp ships no type hints
Requirement = frozenset[str]  # at least one of these (folded) strings occurs in every match
NEVER: Requirement = frozenset()  # suitable() is always False: left out of the index
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
            yield TEXT, "".join(text).translate(_FOLD)
            text.clear()
        yield op, av
    if text:
        yield TEXT, "".join(text).translate(_FOLD)


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
            chars.add(chr(av).translate(_FOLD))
        elif op is sre_c.RANGE and av[1] < 128 and av[1] - av[0] < CLASS_CHARS_MAX:
            chars.update(chr(c).translate(_FOLD) for c in range(av[0], av[1] + 1))
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


def _base_classes() -> tuple[type, ...]:
    """The classes whose `suitable` is plain `_VALID_URL` matching."""
    from yt_dlp.extractor.common import InfoExtractor

    try:
        from yt_dlp.extractor.lazy_extractors import LazyLoadExtractor
    except ImportError:  # yt-dlp built without lazy extractors
        return (InfoExtractor,)
    return (InfoExtractor, LazyLoadExtractor)


def _names(args: list[ast.expr]) -> list[str | None]:
    return [a.id if isinstance(a, ast.Name) else None for a in args]


def _is_pattern_call(node: ast.expr, params: list[str]) -> bool:
    """`super().suitable(url)`, `super(Some, cls).suitable(url)` or `cls._match_valid_url(url)`:
    truthy only if a `_VALID_URL` matches, when every override in the MRO is guarded too (a chain
    of guarded calls ends at the base class or never returns)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)) or node.keywords:
        return False
    if _names(node.args) != [params[1]]:
        return False
    target, name = node.func.value, node.func.attr
    if name == "_match_valid_url":
        return isinstance(target, ast.Name) and target.id == params[0]
    return (
        name == "suitable"
        and isinstance(target, ast.Call)
        and isinstance(target.func, ast.Name)
        and target.func.id == "super"
        and (not target.args or (len(target.args) == 2 and _names(target.args)[1] == params[0]))
    )


def _guarded(node: ast.expr | None, params: list[str]) -> bool:
    """True when the returned value can only be truthy if the extractor's own pattern matches."""
    if node is None or (isinstance(node, ast.Constant) and not node.value):
        return True
    if isinstance(node, ast.IfExp):
        return _guarded(node.body, params) and _guarded(node.orelse, params)
    if isinstance(node, ast.BoolOp):
        checks = [_guarded(v, params) for v in node.values]
        return any(checks) if isinstance(node.op, ast.And) else all(checks)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.IsNot):
        right = node.comparators[0]
        return isinstance(right, ast.Constant) and right.value is None and _is_pattern_call(node.left, params)
    return _is_pattern_call(node, params)


def _suitable_follows_pattern(ie: Extractor, bases: tuple[type, ...]) -> bool:
    """Whether `ie.suitable(url)` implies that one of `ie._VALID_URL` matches: each override of
    `suitable` in its MRO returns only False or values truthy through its pattern (read from its
    source), and nothing overrides `_match_valid_url`. Unreadable source counts as no."""
    for klass in ie.__mro__:
        if klass in bases:
            return True
        if "_match_valid_url" in vars(klass):
            return False
        method = vars(klass).get("suitable")
        if method is None:
            continue
        try:
            func = ast.parse(textwrap.dedent(inspect.getsource(method.__func__))).body[0]
        except (OSError, TypeError, SyntaxError, AttributeError):
            return False
        if not isinstance(func, ast.FunctionDef) or len(func.args.args) != 2:
            return False
        params = [a.arg for a in func.args.args]
        returns = [n for n in ast.walk(func) if isinstance(n, ast.Return)]
        if not all(_guarded(r.value, params) for r in returns):
            return False
    return False


def _extractor_requirement(ie: Extractor) -> Requirement | None:
    """What every URL this extractor's patterns match contains; NEVER for `_VALID_URL = False`."""
    patterns = getattr(ie, "_VALID_URL", None)
    if patterns is False:  # yt-dlp's mark for extractors reached only through other pages' embeds
        return NEVER
    union: set[str] = set()
    for pattern in patterns if isinstance(patterns, (list, tuple)) else (patterns,):
        try:
            requirement = _best(_required(sre_parse.parse(pattern)))
        except (re.error, TypeError, RecursionError):
            return None
        if requirement is None:
            return None
        union |= requirement
    return _reduced(frozenset(union))


def _grams(text: str) -> set[str]:
    return {text[j : j + GRAM] for j in range(len(text) - GRAM + 1)}


class ExtractorIndex:
    """yt-dlp's extractors in its order, each filed under the strings its URLs must contain.

    `first_match` tests only the extractors whose required string occurs in the URL, and of
    those whose `suitable` implies their pattern ('guarded'), first the plain pattern (cheaper
    than some `suitable`s); so it returns what testing each extractor in order would.
    """

    def __init__(self, extractors: Sequence[Extractor]) -> None:
        started = time.perf_counter()
        keys = [ie.ie_key() for ie in extractors]  # yt-dlp tries Generic last: nothing after it is reached
        self.extractors = list(extractors[: keys.index(GENERIC)] if GENERIC in keys else extractors)
        bases = _base_classes()
        self.guarded: list[bool] = []
        self.always: list[int] = []  # tested on every URL: no usable requirement
        strings: dict[str, list[int]] = {}
        for i, ie in enumerate(self.extractors):
            guarded = _suitable_follows_pattern(ie, bases)
            self.guarded.append(guarded)
            requirement = _extractor_requirement(ie) if guarded else None
            if requirement is None:
                self.always.append(i)
            for string in requirement or ():
                strings.setdefault(string, []).append(i)
        self.short = [(string, ids) for string, ids in strings.items() if len(string) < GRAM]
        self.by_gram = self._by_gram({string: ids for string, ids in strings.items() if len(string) >= GRAM})
        self.prepare_seconds = time.perf_counter() - started

    @staticmethod
    def _by_gram(strings: dict[str, list[int]]) -> dict[str, list[tuple[str, list[int]]]]:
        """Each string filed under its rarest GRAM-character piece: any piece of a string occurs
        wherever the string does, and a rare one brings few strings to check."""
        counts = Counter(g for s in strings for g in _grams(s))
        filed: dict[str, list[tuple[str, list[int]]]] = {}
        for string, ids in strings.items():
            filed.setdefault(min(sorted(_grams(string)), key=counts.__getitem__), []).append((string, ids))
        return filed

    def candidates(self, url: str) -> list[int]:
        """Positions of the extractors that might accept `url`, ascending: all that do, and a few more."""
        folded = url.translate(_FOLD)
        hits = list(self.always)
        for g in _grams(folded) & self.by_gram.keys():
            for string, ids in self.by_gram[g]:
                if string in folded:
                    hits += ids
        for string, ids in self.short:
            if string in folded:
                hits += ids
        return sorted(set(hits))

    def first_match(self, url: str) -> Extractor | None:
        """The extractor yt-dlp would use for `url`, or None for its generic one."""
        for i in self.candidates(url):
            ie = self.extractors[i]
            if self.guarded[i] and ie._match_valid_url(url) is None:
                continue
            if ie.suitable(url):
                return ie
        return None

    def naive_match(self, url: str) -> Extractor | None:
        """The same answer the slow way, as yt-dlp's `YoutubeDL.extract_info` finds it."""
        return next((ie for ie in self.extractors if ie.suitable(url)), None)


_built: ExtractorIndex | None = None
_building = threading.Lock()


def prepare(extractors: Callable[[], Sequence[Extractor]] | None = None) -> ExtractorIndex:
    """Build the index once (a second or two: run it in a thread at start). Thread-safe."""
    global _built
    with _building:
        if _built is None:
            if extractors is None:
                from yt_dlp.extractor import gen_extractor_classes

                extractors = gen_extractor_classes
            _built = ExtractorIndex(extractors())
        return _built


def index() -> ExtractorIndex:
    """The index, built now if `prepare()` was not called yet."""
    return _built if _built is not None else prepare()
