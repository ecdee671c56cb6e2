"""Which of yt-dlp's extractors takes a URL, and its media id, answered without importing yt-dlp.

The gateway keys every link by it (core.media_keys), and importing yt-dlp's extractors would cost
it about 37 MB for good. So the answer comes from a table that `python -m core.extractor_table`
builds from the installed yt-dlp, in a process of its own (that module says what it holds): each
extractor's key, `_VALID_URL` patterns and what its `suitable()` decides, in yt-dlp's order, and
the strings its URLs must contain. `find(url)` tests only the extractors whose required text
occurs in the URL, in that order, by their rules: the answer of yt-dlp's own loop (the tests
compare the two on yt-dlp's test URLs), a fraction of a millisecond a URL. Where a rule is code
the table could not read, yt-dlp itself is asked (and loaded, once; logged).

**Kept current.** yt-dlp is upgraded while the bot runs (`/ytdlp update`), so the table records a
fingerprint of yt-dlp's files, and `index()` compares it with the files on disk (two stats). A
stale table is rebuilt: by `keep_current`, a task of the gateway's, in a worker thread, while the
old one answers (logged); at once where no such task runs. Tables are cached per fingerprint in
the folder given to `prepare` (the gateway's DATA_DIR/run), so a restart reads one (tens of ms)
instead of building it (a few seconds). A failed build is logged and retried after a minute; until
then links keep the last table's keys, or, with none, their URL keys.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trio

log = logging.getLogger("media_keys.index")

GENERIC = "Generic"
FORMAT = 2  # of the table: one of another format is built again
PROJECT_ROOT = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = 300.0
RETRY_AFTER_S = 60.0  # after a failed build, before the next try
CHECK_INTERVAL_S = 5.0  # how often keep_current looks at yt-dlp's files
CACHE_PREFIX = "extractor-index-"
# yt-dlp's files whose change means another yt-dlp (pip replaces them on every install)
FINGERPRINT_FILES = ("version.py", "extractor/lazy_extractors.py", "extractor/_extractors.py")

# Python's case-insensitive matching equates these non-ASCII characters with ASCII letters; folding
# URLs and literals alike with this table keeps "literal occurs" sound under IGNORECASE.
# (tests/gateway/test_media_keys.py checks the table against the re engine over every code point.)
FOLD_EXTRA = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
FOLD = str.maketrans({**{chr(c): chr(c + 32) for c in range(65, 91)}, **FOLD_EXTRA})
GRAM = 4  # required strings are looked up by one of their 4-character pieces; shorter ones are scanned

Rule = bool | list[Any]  # see core/extractor_table.py


def grams(text: str) -> set[str]:
    return {text[j : j + GRAM] for j in range(len(text) - GRAM + 1)}


def fingerprint(package: Path | None) -> str:
    """What identifies the yt-dlp in `package` (its folder): the format, Python's version (its
    regex parser read the patterns) and the identity of a few of yt-dlp's files."""
    if package is None:
        return "no yt-dlp"
    marks = [f"{FORMAT}", f"{sys.version_info[0]}.{sys.version_info[1]}"]
    for name in FINGERPRINT_FILES:
        try:
            st = os.stat(package / name)
        except OSError:
            marks.append("-")
            continue
        marks.append(f"{st.st_ino}.{st.st_mtime_ns}.{st.st_size}")
    return ":".join(marks)


def ytdlp_package() -> Path | None:
    """The folder yt-dlp is imported from here, found without importing it."""
    spec = importlib.util.find_spec("yt_dlp")
    return Path(spec.origin).parent if spec is not None and spec.origin else None


@dataclass(frozen=True)
class Found:
    key: str  # yt-dlp's extractor key, e.g. 'Youtube'
    media_id: Any  # what the extractor's get_temp_id(url) gives: usually a str, or None


class ExtractorIndex:
    """One table, loaded (see the module docstring)."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        entries = table["extractors"]
        self.fingerprint: str = table["fingerprint"]
        self.version: str = table.get("yt_dlp", "?")
        self.listed: int = table["listed"]  # yt-dlp's own list; those after it are only named by rules
        self.keys: list[str] = [e["key"] for e in entries]
        self.patterns: list[list[str]] = [e["patterns"] for e in entries]
        self.rules: list[Rule] = [e["rule"] for e in entries]
        self.own_id: list[bool] = [e["own_id"] for e in entries]
        self.sources: list[str] = [e["source"] for e in entries]
        self.always: list[int] = table["always"]  # tried on every URL: no usable required string
        self.short = [(string, ids) for string, ids in table["short"]]
        self.by_gram = {g: [(string, ids) for string, ids in filed] for g, filed in table["by_gram"].items()}
        self._compiled: dict[int, list[re.Pattern[str]]] = {}
        self._asked: set[str] = set()

    def candidates(self, url: str) -> list[int]:
        """Positions of the extractors that might accept `url`, ascending: all that do, and a few more."""
        folded = url.translate(FOLD)
        hits = list(self.always)
        for g in grams(folded) & self.by_gram.keys():
            for string, ids in self.by_gram[g]:
                if string in folded:
                    hits += ids
        for string, ids in self.short:
            if string in folded:
                hits += ids
        return sorted(set(hits))

    def find(self, url: str) -> Found | None:
        """The extractor yt-dlp would use for `url` and the id it reads from it; None for Generic."""
        matches: dict[int, re.Match[str] | None] = {}
        for i in self.candidates(url):
            if self._holds(self.rules[i], i, url, matches):
                return Found(self.keys[i], self._media_id(i, url, matches))
        return None

    def match(self, i: int, url: str) -> re.Match[str] | None:
        """yt-dlp's `_match_valid_url`: the first of the extractor's patterns that matches."""
        compiled = self._compiled.get(i)
        if compiled is None:
            compiled = self._compiled[i] = [re.compile(p) for p in self.patterns[i]]
        return next(filter(None, (regex.match(url) for regex in compiled)), None)

    def _matched(self, i: int, url: str, matches: dict[int, re.Match[str] | None]) -> re.Match[str] | None:
        if i not in matches:
            matches[i] = self.match(i, url)
        return matches[i]

    def _holds(self, rule: Rule, own: int, url: str, matches: dict[int, re.Match[str] | None]) -> bool:
        if isinstance(rule, bool):
            return rule
        op = rule[0]
        if op == "match":
            return self._matched(rule[1], url, matches) is not None
        if op == "suitable":
            return self._holds(self.rules[rule[1]], rule[1], url, matches)
        if op == "not":
            return not self._holds(rule[1], own, url, matches)
        if op == "and":
            return all(self._holds(r, own, url, matches) for r in rule[1:])
        if op == "or":
            return any(self._holds(r, own, url, matches) for r in rule[1:])
        if op == "query":  # yt_dlp.utils.parse_qs(url).get(name, [None])[0]
            return bool(parse_qs(urlsplit(url).query).get(rule[1], [None])[0])
        return bool(self._ask_ytdlp(own).suitable(url))  # "opaque"

    def _media_id(self, i: int, url: str, matches: dict[int, re.Match[str] | None]) -> Any:
        if not self.own_id[i]:
            return self._ask_ytdlp(i).get_temp_id(url)
        matched = self._matched(i, url, matches)
        try:
            return matched.group("id") if matched is not None else None
        except IndexError:  # a pattern without an id group
            return None

    def _ask_ytdlp(self, i: int) -> Any:
        """The extractor's own class, for what the table could not read: importing it loads yt-dlp."""
        module, _, name = self.sources[i].partition(":")
        if module not in self._asked:
            self._asked.add(module)
            log.warning("the extractor %s decides in code the index cannot read: importing %s", self.keys[i], module)
        return getattr(importlib.import_module(module), name)


EMPTY = {"extractors": [], "listed": 0, "always": [], "short": [], "by_gram": {}}


class BuildFailed(Exception):
    pass


class KeptIndex:
    """The index of the yt-dlp installed now: loaded from the cache, built, or rebuilt when stale."""

    def __init__(
        self, cache_dir: Path | None = None, package: Path | None = None, env: Mapping[str, str] | None = None
    ) -> None:
        self.cache_dir = cache_dir
        self.package = package  # yt-dlp's folder; found on first use if None
        self.env = env  # for the builder process; this one's if None
        self.current: ExtractorIndex | None = None
        self.watched = False  # keep_current is running: index() never builds in the caller
        self._lock = threading.Lock()
        self._failed: tuple[str, float] = ("", -math.inf)  # fingerprint and time of the last failure
        self._stale_logged = ""

    def fingerprint(self) -> str:
        if self.package is None:
            self.package = ytdlp_package()
        return fingerprint(self.package)

    def stale(self) -> bool:
        """Whether a build is due: the table is not the installed yt-dlp's (and did not just fail)."""
        now = self.fingerprint()
        if self.current is not None and self.current.fingerprint == now:
            return False
        failed, when = self._failed
        return not (failed == now and time.monotonic() - when < RETRY_AFTER_S)

    def prepare(self) -> ExtractorIndex:
        """Load or build the table unless the current one is fresh. Thread-safe; blocks for a
        build (a few seconds: run it in a thread)."""
        with self._lock:
            if self.stale():
                self._refresh(self.fingerprint())
            if self.current is None:
                self.current = ExtractorIndex({**EMPTY, "fingerprint": ""})
            return self.current

    def index(self) -> ExtractorIndex:
        """The index to answer from now (see the module docstring)."""
        current = self.current
        if current is None or not self.watched:
            return self.prepare() if current is None or self.stale() else current
        if current.fingerprint != self._stale_logged and self.stale():
            self._stale_logged = current.fingerprint
            log.warning("yt-dlp changed: links keep %s keys until it is indexed", self._keeping())
        return current

    def _keeping(self) -> str:
        current = self.current
        return f"yt-dlp {current.version}'s" if current is not None and current.listed else "URL"

    async def keep_current(
        self, interval: float = CHECK_INTERVAL_S, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run for the process's lifetime: rebuild in a worker thread whenever yt-dlp changes."""
        self.watched = True
        task_status.started()
        try:
            while True:
                if self.stale():
                    await trio.to_thread.run_sync(self.prepare)
                await trio.sleep(interval)
        finally:
            self.watched = False

    def _refresh(self, now: str) -> None:
        started = time.monotonic()
        fresh = self._cached(now)
        built = fresh is None
        if fresh is None:
            try:
                fresh = ExtractorIndex(self._build(now))
            except (BuildFailed, OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
                self._failed = (now, time.monotonic())
                log.error("indexing yt-dlp's extractors failed (%s); links keep %s keys for now", exc, self._keeping())
                return
        self.current = fresh
        log.info(
            "yt-dlp %s's extractors %s in %.1f s (%d extractors, %d tried on every URL)",
            self.current.version,
            "indexed" if built else "read from the cache",
            time.monotonic() - started,
            self.current.listed,
            len(self.current.always),
        )

    def _cache_file(self, now: str) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{CACHE_PREFIX}{hashlib.sha256(now.encode()).hexdigest()[:16]}.json"

    def _cached(self, now: str) -> ExtractorIndex | None:
        path = self._cache_file(now)
        if path is None or not path.exists():
            return None
        try:
            with path.open(encoding="utf-8") as f:
                table = json.load(f)
            if table.get("fingerprint") != now or table.get("format") != FORMAT:
                raise ValueError("another yt-dlp's or format")
            return ExtractorIndex(table)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("the cached index %s is unusable (%s): building it again", path.name, exc)
            path.unlink(missing_ok=True)
            return None

    def _build(self, now: str) -> dict[str, Any]:
        command = [sys.executable, "-m", "core.extractor_table"]
        env = dict(self.env) if self.env is not None else None
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            raise BuildFailed(f"exit {done.returncode}: {done.stderr.strip()[-300:]}")
        table: dict[str, Any] = json.loads(done.stdout)
        if table.get("fingerprint") != now or self.fingerprint() != now:
            raise BuildFailed("yt-dlp changed while it was indexed")
        path = self._cache_file(now)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            for old in path.parent.glob(f"{CACHE_PREFIX}*.json"):
                old.unlink(missing_ok=True)
            partial = path.with_suffix(".part")
            partial.write_text(done.stdout, encoding="utf-8")
            os.replace(partial, path)
        return table


_kept = KeptIndex()


def prepare(cache_dir: Path | None = None) -> ExtractorIndex:
    """Load or build the index now (at start, in a thread); `cache_dir` keeps tables across restarts."""
    if cache_dir is not None:
        _kept.cache_dir = cache_dir
    return _kept.prepare()


def index() -> ExtractorIndex:
    """The index to answer from, built now if `prepare()` was not called yet."""
    return _kept.index()


async def keep_current(
    interval: float = CHECK_INTERVAL_S, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """A task for the process's nursery: rebuild the index in a worker thread when yt-dlp changes."""
    await _kept.keep_current(interval, task_status=task_status)
