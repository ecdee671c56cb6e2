"""The table core.extractor_index answers from, built from the installed yt-dlp in a process of its own.

`python -m core.extractor_table` imports yt-dlp (about 37 MB, gone when it exits) and prints, as
JSON, what finding the extractor for a URL needs, for each extractor in yt-dlp's order (Generic,
which yt-dlp tries last, is left out):
- `key`: its `ie_key()`;
- `patterns`: its `_VALID_URL` regexes (none for `_VALID_URL = False`): `_match_valid_url` is
  the first of them that matches, and the media id is that match's `id` group (`get_temp_id`);
- `rule`: what its `suitable(url)` decides, as a formula (below), read from the source of each
  override in its class hierarchy;
- `own_id`: False when a class overrides `get_temp_id` or `_match_id` (then yt-dlp is asked);
- `source`: where its class is (`module:name`), to ask it where the table cannot answer.
Then the strings each extractor's URLs must contain (core.extractor_patterns) for those whose
rule implies their own pattern, and the rest, which are tried on every URL.

A rule is JSON: true/false, ["match", i] (extractor i's `_match_valid_url` matches), ["suitable",
i] (extractor i's own rule), ["query", name] (`parse_qs(url)` has a non-empty first `name`),
["not", r], ["and", r...], ["or", r...], or ["opaque"]: code this reading does not know, which
the index then asks yt-dlp itself about. yt-dlp writes such overrides to be self-contained for
its own lazy extractors ("This function must import everything it needs (except other
extractors)"); the known forms are `False if A.suitable(url) else super().suitable(url)`,
`any(ie.suitable(url) for ie in (A, B))`, `cls._match_valid_url(url) and not A.suitable(url)`,
`A._match_valid_url(url)`, and YouTube's `parse_qs(url)` checks. Extractors an override names
but yt-dlp does not list are appended after the listed ones, never tried on their own.
"""

from __future__ import annotations

import ast
import inspect
import json
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.extractor_index import FORMAT, GENERIC, GRAM, Rule, fingerprint, grams, ytdlp_package
from core.extractor_patterns import requirement

Extractor = type[Any]  # a yt-dlp extractor class (lazy or real); yt-dlp ships no type hints
ID_METHODS = ("get_temp_id", "_match_id", "_match_valid_url")


class Untranslatable(Exception):
    """An override this reading does not know."""


def _not(rule: Rule) -> Rule:
    return (not rule) if isinstance(rule, bool) else ["not", rule]


def _all(op: str, rules: list[Rule]) -> Rule:
    """["and", ...] or ["or", ...], with constants folded."""
    absorbing, neutral = op == "or", op == "and"  # or: True absorbs, False vanishes; and: the reverse
    kept: list[Rule] = []
    for rule in rules:
        if rule is absorbing:
            return absorbing
        if rule is not neutral:
            kept.append(rule)
    return neutral if not kept else kept[0] if len(kept) == 1 else [op, *kept]


def _if(condition: Rule, then: Rule, otherwise: Rule) -> Rule:
    return _all("or", [_all("and", [condition, then]), _all("and", [_not(condition), otherwise])])


class Reader:
    """Reads the `suitable` overrides of yt-dlp's extractors into rules."""

    def __init__(self, extractors: Sequence[Extractor], bases: tuple[type, ...]) -> None:
        self.extractors = list(extractors)
        self.position = {ie: i for i, ie in enumerate(self.extractors)}
        self.bases = bases

    def at(self, ie: Extractor) -> int:
        """The extractor's position, appending one an override names but yt-dlp does not list."""
        if ie not in self.position:
            self.position[ie] = len(self.extractors)
            self.extractors.append(ie)
        return self.position[ie]

    def rule(self, ie: Extractor) -> Rule:
        try:
            return self._suitable(ie, after=None)
        except (Untranslatable, OSError, TypeError, SyntaxError, ValueError, AttributeError):
            return ["opaque"]

    def match(self, ie: Extractor) -> Rule:
        """["match", i] for ie's `_match_valid_url`, when it is yt-dlp's plain one over regexes."""
        for klass in ie.__mro__:
            if klass in self.bases:
                if _patterns(ie) is None:
                    raise Untranslatable(f"{ie.__name__}'s patterns are not regexes")
                return ["match", self.at(ie)]
            if "_match_valid_url" in vars(klass):
                raise Untranslatable(f"{klass.__name__} matches URLs its own way")
        raise Untranslatable(f"{ie.__name__} is no yt-dlp extractor")

    def _suitable(self, ie: Extractor, after: type | None) -> Rule:
        """`suitable` as the first class after `after` in ie's MRO defines it, for cls = ie."""
        mro = ie.__mro__
        for klass in mro[mro.index(after) + 1 if after else 0 :]:
            if klass in self.bases:
                return self.match(ie)
            if "suitable" in vars(klass):
                return self._override(ie, klass)
        raise Untranslatable(f"{ie.__name__} is no yt-dlp extractor")

    def _override(self, ie: Extractor, klass: type) -> Rule:
        func = vars(klass)["suitable"].__func__
        tree = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
        if not isinstance(tree, ast.FunctionDef) or len(tree.args.args) != 2 or tree.decorator_list[1:]:
            raise Untranslatable(f"{klass.__name__}.suitable has an unknown signature")
        scope = Scope(self, ie, klass, func.__globals__, [a.arg for a in tree.args.args])
        return scope.block(tree.body)


class Scope:
    """One `suitable` override being read: its names and what they stand for."""

    def __init__(self, reader: Reader, ie: Extractor, klass: type, names: dict[str, Any], params: list[str]) -> None:
        self.reader, self.ie, self.klass, self.names = reader, ie, klass, names
        self.cls, self.url = params
        self.parse_qs: set[str] = set()  # local names of yt_dlp.utils.parse_qs
        self.queries: set[str] = set()  # locals holding parse_qs(url)
        self.tuples: dict[str, list[Extractor]] = {}  # locals holding a tuple of extractors
        self.loop: dict[str, Extractor] = {}  # the variable of an any(...) generator, bound

    def block(self, statements: list[ast.stmt]) -> Rule:
        for n, statement in enumerate(statements):
            if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                continue  # a docstring
            if isinstance(statement, ast.ImportFrom) and statement.module == "yt_dlp.utils":
                if any(alias.name != "parse_qs" for alias in statement.names):
                    raise Untranslatable("imports more than parse_qs")
                self.parse_qs |= {alias.asname or alias.name for alias in statement.names}
            elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                self.assign(statement.targets[0], statement.value)
            elif isinstance(statement, ast.If) and not statement.orelse and len(statement.body) == 1:
                then = statement.body[0]
                if not isinstance(then, ast.Return):
                    raise Untranslatable("an if without a return")
                return _if(self.expr(statement.test), self.returned(then), self.block(statements[n + 1 :]))
            elif isinstance(statement, ast.Return):
                return self.returned(statement)
            else:
                raise Untranslatable(f"a {type(statement).__name__} statement")
        return False  # falling off the end returns None

    def returned(self, statement: ast.Return) -> Rule:
        return False if statement.value is None else self.expr(statement.value)

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if not isinstance(target, ast.Name):
            raise Untranslatable("an assignment to more than a name")
        if isinstance(value, ast.Tuple):
            self.tuples[target.id] = [self.extractor(e) for e in value.elts]
        elif self.is_parse_qs(value):
            self.queries.add(target.id)
        else:
            raise Untranslatable("an assignment of something else")

    def is_parse_qs(self, node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in self.parse_qs
            and self.is_url_only(node)
        )

    def is_url_only(self, call: ast.Call) -> bool:
        return not call.keywords and len(call.args) == 1 and self.is_name(call.args[0], self.url)

    @staticmethod
    def is_name(node: ast.expr, name: str) -> bool:
        return isinstance(node, ast.Name) and node.id == name

    def extractor(self, node: ast.expr) -> Extractor:
        if not isinstance(node, ast.Name):
            raise Untranslatable("an extractor that is not a name")
        found = self.loop.get(node.id) or self.names.get(node.id)
        if not (isinstance(found, type) and hasattr(found, "_VALID_URL") and hasattr(found, "ie_key")):
            raise Untranslatable(f"{node.id} is not an extractor")
        return found

    def expr(self, node: ast.expr) -> Rule:
        if isinstance(node, ast.Constant) and node.value in (True, False, None):
            return bool(node.value)
        if isinstance(node, ast.BoolOp):
            return _all("and" if isinstance(node.op, ast.And) else "or", [self.expr(v) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _not(self.expr(node.operand))
        if isinstance(node, ast.IfExp):
            return _if(self.expr(node.test), self.expr(node.body), self.expr(node.orelse))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.IsNot)):
            right = node.comparators[0]
            if not (isinstance(right, ast.Constant) and right.value is None and self.is_match_call(node.left)):
                raise Untranslatable("a comparison other than `_match_valid_url(url) is [not] None`")
            matched = self.expr(node.left)
            return matched if isinstance(node.ops[0], ast.IsNot) else _not(matched)
        if isinstance(node, ast.Subscript):
            return self.query(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise Untranslatable(f"a {type(node).__name__} expression")

    @staticmethod
    def is_match_call(node: ast.expr) -> bool:
        return (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_match_valid_url"
        )

    def query(self, node: ast.Subscript) -> Rule:
        """`qs.get('name', [None])[0]`, qs being parse_qs(url): its first value, truthy or not."""
        get = node.value
        if not (isinstance(node.slice, ast.Constant) and node.slice.value == 0 and isinstance(get, ast.Call)):
            raise Untranslatable("a subscript")
        func, args = get.func, get.args
        if not (isinstance(func, ast.Attribute) and func.attr == "get" and len(args) == 2 and not get.keywords):
            raise Untranslatable("a subscript of something else than qs.get")
        source = func.value
        if not (isinstance(source, ast.Name) and source.id in self.queries) and not self.is_parse_qs(source):
            raise Untranslatable("a get on something else than parse_qs(url)")
        name, default = args
        none_list = isinstance(default, ast.List) and [ast.literal_eval(e) for e in default.elts] == [None]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str) and none_list):
            raise Untranslatable("qs.get with other arguments")
        return ["query", name.value]

    def call(self, node: ast.Call) -> Rule:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "any" and len(node.args) == 1 and not node.keywords:
            return self.any_of(node.args[0])
        if not (isinstance(func, ast.Attribute) and self.is_url_only(node)):
            raise Untranslatable("a call of something else")
        target, method = func.value, func.attr
        if method not in ("suitable", "_match_valid_url"):
            raise Untranslatable(f"a call of {method}")
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Name) and target.func.id == "super":
            return self.super_call(target, method)
        if self.is_name(target, self.cls):
            if method == "suitable":
                raise Untranslatable("cls.suitable inside suitable")
            return self.reader.match(self.ie)
        other = self.extractor(target)
        return ["suitable", self.reader.at(other)] if method == "suitable" else self.reader.match(other)

    def super_call(self, call: ast.Call, method: str) -> Rule:
        if method != "suitable" or call.keywords:
            raise Untranslatable("super() used for something else than suitable")
        after: type = self.klass
        if call.args:  # super(SomeIE, cls)
            if len(call.args) != 2 or not self.is_name(call.args[1], self.cls):
                raise Untranslatable("super() with other arguments")
            after = self.extractor(call.args[0])
            if after not in self.ie.__mro__:
                raise Untranslatable("super() of a class out of the hierarchy")
        return self.reader._suitable(self.ie, after)

    def any_of(self, node: ast.expr) -> Rule:
        """`any(x.suitable(url) for x in (A, B))` (or over a tuple named before)."""
        if not (isinstance(node, ast.GeneratorExp) and len(node.generators) == 1):
            raise Untranslatable("any() of something else than one generator")
        loop = node.generators[0]
        if loop.ifs or loop.is_async or not isinstance(loop.target, ast.Name):
            raise Untranslatable("a generator with conditions")
        if isinstance(loop.iter, ast.Tuple):
            classes = [self.extractor(e) for e in loop.iter.elts]
        elif isinstance(loop.iter, ast.Name) and loop.iter.id in self.tuples:
            classes = self.tuples[loop.iter.id]
        else:
            raise Untranslatable("any() over something else than a tuple of extractors")
        rules = []
        for klass in classes:
            self.loop[loop.target.id] = klass
            rules.append(self.expr(node.elt))
        del self.loop[loop.target.id]
        return _all("or", rules)


def implies_own_match(rule: Rule, own: int) -> bool:
    """Whether the rule holds only if extractor `own`'s pattern matches."""
    if isinstance(rule, bool):
        return not rule
    op = rule[0]
    if op == "match":
        return bool(rule[1] == own)
    if op == "and":
        return any(implies_own_match(r, own) for r in rule[1:])
    if op == "or":
        return all(implies_own_match(r, own) for r in rule[1:])
    return False


def _base_classes() -> tuple[type, ...]:
    """The classes whose `suitable`, `_match_valid_url` and `get_temp_id` are yt-dlp's plain ones."""
    from yt_dlp.extractor.common import InfoExtractor

    try:
        from yt_dlp.extractor.lazy_extractors import LazyLoadExtractor
    except ImportError:  # yt-dlp built without lazy extractors
        return (InfoExtractor,)
    return (InfoExtractor, LazyLoadExtractor)


def _patterns(ie: Extractor) -> list[str] | None:
    patterns = getattr(ie, "_VALID_URL", None)
    if patterns is False:  # yt-dlp's mark for extractors reached only through other pages' embeds
        return []
    listed = list(patterns) if isinstance(patterns, (list, tuple)) else [patterns]
    return [p for p in listed if isinstance(p, str)] if all(isinstance(p, str) for p in listed) else None


def _own_id(ie: Extractor, bases: tuple[type, ...]) -> bool:
    for klass in ie.__mro__:
        if klass in bases:
            return True
        if any(method in vars(klass) for method in ID_METHODS):
            return False
    return False


def _by_gram(strings: dict[str, list[int]]) -> dict[str, list[tuple[str, list[int]]]]:
    """Each string filed under its rarest GRAM-character piece: any piece of a string occurs
    wherever the string does, and a rare one brings few strings to check."""
    counts = Counter(g for s in strings for g in grams(s))
    filed: dict[str, list[tuple[str, list[int]]]] = {}
    for string, ids in strings.items():
        filed.setdefault(min(sorted(grams(string)), key=counts.__getitem__), []).append((string, ids))
    return filed


def build(extractors: Sequence[Extractor], bases: tuple[type, ...] | None = None) -> dict[str, Any]:
    """The table for these extractors (yt-dlp's order; nothing after Generic is reached)."""
    started = time.perf_counter()
    keys = [ie.ie_key() for ie in extractors]
    listed = list(extractors[: keys.index(GENERIC)] if GENERIC in keys else extractors)
    reader = Reader(listed, bases if bases is not None else _base_classes())
    rules: list[Rule] = []
    while len(rules) < len(reader.extractors):  # reading a rule may append an extractor it names
        rules.append(reader.rule(reader.extractors[len(rules)]))
    entries: list[dict[str, Any]] = []
    always: list[int] = []
    strings: dict[str, list[int]] = {}
    for i, (ie, rule) in enumerate(zip(reader.extractors, rules, strict=True)):
        patterns = _patterns(ie)
        if patterns is None:  # not regexes: only yt-dlp knows
            patterns, rule = [], ["opaque"]
        entries.append(
            {
                "key": ie.ie_key(),
                "patterns": patterns,
                "rule": rule,
                "own_id": _own_id(ie, reader.bases),
                "source": f"{ie.__module__}:{ie.__qualname__}",
            }
        )
        if i >= len(listed):
            continue
        required = requirement(patterns) if implies_own_match(rule, i) else None
        if required is None:
            always.append(i)
        for string in required or ():
            strings.setdefault(string, []).append(i)
    return {
        "format": FORMAT,
        "listed": len(listed),
        "extractors": entries,
        "always": always,
        "short": [(string, ids) for string, ids in strings.items() if len(string) < GRAM],
        "by_gram": _by_gram({string: ids for string, ids in strings.items() if len(string) >= GRAM}),
        "build_seconds": round(time.perf_counter() - started, 3),
    }


def main() -> None:
    """Print the table of the installed yt-dlp, with the fingerprint of the files it was read from
    (taken before importing yt-dlp: a change while building shows as a mismatch)."""
    package = ytdlp_package()
    before = fingerprint(package)
    from yt_dlp.extractor import gen_extractor_classes

    table = build(gen_extractor_classes())
    from yt_dlp.version import __version__

    table.update(fingerprint=before if fingerprint(package) == before else "changed while building", yt_dlp=__version__)
    json.dump(table, sys.stdout, separators=(",", ":"))


if __name__ == "__main__":
    main()
