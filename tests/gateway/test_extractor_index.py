"""The extractor index's table: read from yt-dlp's code, answering as yt-dlp's loop does, kept
current when yt-dlp is upgraded under a running gateway, and never loading yt-dlp there.

tests/gateway/test_media_keys.py compares the index with yt-dlp's loop on its own test URLs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
from yt_dlp.extractor.common import InfoExtractor

from core import extractor_index, extractor_table
from core.extractor_index import ExtractorIndex, Found, KeptIndex
from tests.support.poll import until

ROOT = Path(__file__).resolve().parents[2]
REBUILD_TIMEOUT = 120.0  # seconds for keep_current to notice and index a changed yt-dlp (a few seconds)


# ---- rules read from suitable() overrides -----------------------------------------------------


class PlainIE(InfoExtractor):
    _VALID_URL = r"https?://plain\.example/(?P<id>\d+)"


class ExcludingIE(InfoExtractor):
    _VALID_URL = r"https?://(?:plain|other)\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        return False if PlainIE.suitable(url) else super().suitable(url)


class AnyOfIE(InfoExtractor):
    _VALID_URL = r"https?://(?:plain|other|third)\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        exclude = (PlainIE, ExcludingIE)
        return not any(ie.suitable(url) for ie in exclude) and super().suitable(url)


class MatchAndNotIE(InfoExtractor):
    _VALID_URL = (r"https?://fourth\.example/(?P<id>\w+)", r"https?://plain\.example/(?P<id>\w+)/x")

    @classmethod
    def suitable(cls, url: str) -> Any:
        return cls._match_valid_url(url) and not PlainIE._match_valid_url(url)


class QueryIE(InfoExtractor):
    _VALID_URL = r"https?://watch\.example/\?(?:.*?&)?v=(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        from yt_dlp.utils import parse_qs

        qs = parse_qs(url)
        if qs.get("list", [None])[0]:
            return False
        return super().suitable(url)


class ListIE(InfoExtractor):
    _VALID_URL = r"https?://watch\.example/\?(?:.*?&)?list=(?P<id>\w+)"


class SkippedBaseIE(InfoExtractor):
    @classmethod
    def suitable(cls, url: str) -> bool:
        return False  # skipped by super(SkippedBaseIE, cls) below


class SkippingIE(SkippedBaseIE):
    _VALID_URL = r"https?://skip\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        return False if QueryIE.suitable(url) else super(SkippedBaseIE, cls).suitable(url)


class UnreadableIE(InfoExtractor):
    _VALID_URL = r"https?://unreadable\.example/(?P<id>\w+)"

    @classmethod
    def suitable(cls, url: str) -> bool:
        return "anything-goes" in url or super().suitable(url)


class EmbedOnlyIE(InfoExtractor):
    _VALID_URL = False


class OwnIdIE(InfoExtractor):
    _VALID_URL = r"https?://own-id\.example/(?P<id>\w+)"

    @classmethod
    def get_temp_id(cls, url: str) -> str:
        return "own-" + str(super().get_temp_id(url))


class NoIdGroupIE(InfoExtractor):
    _VALID_URL = r"https?://no-id\.example/\w+"


class CatchallIE(InfoExtractor):
    _VALID_URL = r"(?P<id>.+)"


EXTRACTORS = [
    EmbedOnlyIE, UnreadableIE, QueryIE, ListIE, AnyOfIE, ExcludingIE, MatchAndNotIE, SkippingIE, OwnIdIE,
    NoIdGroupIE, PlainIE,
]  # fmt: skip
URLS = [
    "https://plain.example/1",
    "https://plain.example/abc",
    "https://other.example/abc",
    "https://third.example/abc",
    "https://fourth.example/abc",
    "https://plain.example/12/x",
    "https://plain.example/abc/x",
    "https://watch.example/?v=abc",
    "https://watch.example/?v=abc&list=L1",
    "https://watch.example/?list=L1&v=abc",
    "https://watch.example/?list=&v=abc",
    "https://skip.example/abc",
    "https://skip.example/?v=abc",
    "https://unreadable.example/abc",
    "https://anywhere.example/anything-goes",
    "https://own-id.example/abc",
    "https://no-id.example/abc",
    "https://nowhere.example/",
]


def table_index(classes: Sequence[type]) -> ExtractorIndex:
    return ExtractorIndex({**extractor_table.build(classes), "fingerprint": "test"})


def naive(classes: Sequence[Any], url: str) -> Found | None:
    """yt-dlp's loop: the first extractor whose suitable() says yes, and its get_temp_id."""
    return next((Found(ie.ie_key(), ie.get_temp_id(url)) for ie in classes if ie.suitable(url)), None)


def test_each_known_form_of_override_becomes_a_rule_that_answers_as_the_code():
    index = table_index(EXTRACTORS)
    rules = dict(zip(index.keys, index.rules, strict=True))
    assert rules["Unreadable"] == ["opaque"]
    assert [key for key, rule in rules.items() if "opaque" in json.dumps(rule)] == ["Unreadable"]
    assert rules["Excluding"] == ["and", ["not", ["suitable", index.keys.index("Plain")]], ["match", 5]]
    assert rules["Query"] == ["and", ["not", ["query", "list"]], ["match", 2]]
    assert index.always == [1]  # Unreadable may say yes without its pattern: tried on every URL
    assert 0 not in index.candidates("https://anywhere.example/")  # _VALID_URL = False never matches
    assert index.own_id == [key != "OwnId" for key in index.keys]
    for url in URLS:
        assert index.find(url) == naive(EXTRACTORS, url), url
    assert index.find("https://own-id.example/abc") == Found("OwnId", "own-abc")  # its own code asked
    assert index.find("https://no-id.example/abc") == Found("NoIdGroup", None)
    with_catchall = table_index([PlainIE, CatchallIE, ExcludingIE])
    assert with_catchall.find("https://other.example/abc") == Found("Catchall", "https://other.example/abc")


def test_an_extractor_a_rule_names_but_the_list_lacks_is_never_tried_alone():
    index = table_index([AnyOfIE])  # names PlainIE and ExcludingIE (which names PlainIE)
    assert index.listed == 1 and set(index.keys) == {"AnyOf", "Plain", "Excluding"}
    assert index.candidates("https://plain.example/1") == [0]
    assert index.find("https://plain.example/1") is None and naive([AnyOfIE], "https://plain.example/1") is None
    assert index.find("https://third.example/a") == Found("AnyOf", "a")


def test_the_installed_ytdlps_overrides_are_all_read():
    """A yt-dlp whose overrides the reader does not know still gets right answers (yt-dlp is asked
    for them), but loads yt-dlp in the gateway: this says which, when requirements.txt moves on."""
    table = json.loads(subprocess.run([sys.executable, "-m", "core.extractor_table"], cwd=ROOT, capture_output=True,
                                      text=True, check=True, timeout=REBUILD_TIMEOUT).stdout)  # fmt: skip
    entries = table["extractors"]
    assert table["listed"] > 1500
    assert [e["key"] for e in entries if "opaque" in json.dumps(e["rule"])] == []
    assert [e["key"] for e in entries if not e["own_id"]] == ["Onsen"]  # its get_temp_id decodes a query
    index = ExtractorIndex(table)
    from yt_dlp.extractor.lazy_extractors import OnsenIE

    url = "https://share.onsen.ag/program/onsenking?c=b25zZW5raW5n"
    assert index.find(url) == Found("Onsen", OnsenIE.get_temp_id(url)) == Found("Onsen", "onsenking")


# ---- kept current ---------------------------------------------------------------------------------


NEW_SITE = """

class NewSiteIE(LazyLoadExtractor):
    _module = 'yt_dlp.extractor.newsite'
    IE_NAME = 'newsite'
    _VALID_URL = 'https?://new-site\\\\.example/v/(?P<id>\\\\d+)'
"""


@pytest.fixture
def ytdlp_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The installed yt-dlp in a folder of our own (its files symlinked, the two an upgrade will
    change copied), and the environment that imports it from there."""
    installed = extractor_index.ytdlp_package()
    assert installed is not None
    site = tmp_path / "site"
    package = site / "yt_dlp"
    shutil.copytree(installed, package, copy_function=os.symlink)
    for name in ("version.py", "extractor/lazy_extractors.py"):
        (package / name).unlink()
        shutil.copyfile(installed / name, package / name)
    return package, {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def upgrade(package: Path) -> None:
    """What pip does to the files: new ones, with an extractor yt-dlp tries first."""
    lazy = package / "extractor" / "lazy_extractors.py"
    text = lazy.read_text(encoding="utf-8")
    head, lookup = text.split("\n_CLASS_LOOKUP = {", 1)
    lazy.unlink()
    lazy.write_text(head + NEW_SITE + "\n\n_CLASS_LOOKUP = {'NewSiteIE': NewSiteIE, " + lookup, encoding="utf-8")
    version = package / "version.py"
    text = version.read_text(encoding="utf-8")
    version.unlink()
    version.write_text(text + "\n# upgraded\n", encoding="utf-8")


NEW_URL = "https://new-site.example/v/42"


def test_an_upgraded_ytdlp_is_noticed_and_indexed(ytdlp_copy, tmp_path, caplog):
    package, env = ytdlp_copy
    kept = KeptIndex(tmp_path / "cache", package, env)
    caplog.set_level(logging.INFO, logger="media_keys.index")
    before = kept.prepare()
    assert before.find(NEW_URL) is None and kept.index() is before  # fresh: no rebuild
    assert before.find("https://youtu.be/dQw4w9WgXcQ") == Found("Youtube", "dQw4w9WgXcQ")
    [cached] = (tmp_path / "cache").iterdir()
    upgrade(package)
    after = kept.index()  # no keep_current task: rebuilt at once
    assert after is not before and after.find(NEW_URL) == Found("NewSite", "42")
    assert after.find("https://youtu.be/dQw4w9WgXcQ") == Found("Youtube", "dQw4w9WgXcQ")
    assert [p.name for p in (tmp_path / "cache").iterdir()] != [cached.name]  # the old table is gone
    assert sum("indexed in" in r.getMessage() for r in caplog.records) == 2


def test_a_restart_reads_the_cached_table(ytdlp_copy, tmp_path, monkeypatch):
    package, env = ytdlp_copy
    built = KeptIndex(tmp_path / "cache", package, env).prepare()

    def no_build(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("built again")

    monkeypatch.setattr(subprocess, "run", no_build)
    read = KeptIndex(tmp_path / "cache", package, env).prepare()
    assert read.fingerprint == built.fingerprint and read.keys == built.keys


def test_a_damaged_cached_table_is_built_again(ytdlp_copy, tmp_path, caplog):
    package, env = ytdlp_copy
    KeptIndex(tmp_path / "cache", package, env).prepare()
    [cached] = (tmp_path / "cache").iterdir()
    cached.write_text(cached.read_text()[:1000])  # a disk that filled up while it was written
    index = KeptIndex(tmp_path / "cache", package, env).prepare()
    assert index.find("https://youtu.be/dQw4w9WgXcQ") == Found("Youtube", "dQw4w9WgXcQ")
    assert any("unusable" in r.getMessage() for r in caplog.records)
    assert json.loads(cached.read_text())["listed"] == index.listed  # written again, whole


async def test_keep_current_rebuilds_off_the_callers_thread(ytdlp_copy, tmp_path, caplog):
    package, env = ytdlp_copy
    kept = KeptIndex(tmp_path / "cache", package, env)
    before = await trio.to_thread.run_sync(kept.prepare)
    async with trio.open_nursery() as nursery:
        await nursery.start(kept.keep_current, 0.05)
        upgrade(package)
        assert kept.index() is before  # the caller is answered at once, from the old table...
        assert any("yt-dlp changed" in r.getMessage() for r in caplog.records)  # ...which is said

        async def rebuilt() -> ExtractorIndex | None:
            current = kept.index()
            return current if current is not before else None

        after = await until("the new yt-dlp indexed", rebuilt, REBUILD_TIMEOUT)
        assert after.find(NEW_URL) == Found("NewSite", "42")
        nursery.cancel_scope.cancel()
    assert not kept.watched


def test_a_failed_build_keeps_url_keys_and_is_retried_later(tmp_path, monkeypatch, caplog):
    broken = tmp_path / "site" / "yt_dlp"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('a half-installed yt-dlp')\n")
    (broken / "version.py").write_text("__version__ = '0'\n")
    kept = KeptIndex(None, broken, {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken.parent), str(ROOT)])})
    index = kept.prepare()
    assert index.find("https://youtu.be/dQw4w9WgXcQ") is None  # every link keyed by its URL
    assert any("indexing yt-dlp's extractors failed" in r.getMessage() for r in caplog.records)
    calls: list[object] = []

    def still_broken(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        return subprocess.CompletedProcess(args, 1, "", "still broken")

    monkeypatch.setattr(subprocess, "run", still_broken)
    assert kept.index() is index and calls == []  # not again at once...
    monkeypatch.setattr(extractor_index, "RETRY_AFTER_S", 0.0)
    assert kept.index().listed == 0 and len(calls) == 1  # ...but after RETRY_AFTER_S


def test_a_table_of_files_that_changed_during_the_build_is_not_used(ytdlp_copy, tmp_path, monkeypatch):
    package, env = ytdlp_copy
    kept = KeptIndex(None, package, env)
    real = subprocess.run

    def build_while_pip_runs(*args: Any, **kwargs: Any) -> Any:
        done = real(*args, **kwargs)
        upgrade(package)
        return done

    monkeypatch.setattr(subprocess, "run", build_while_pip_runs)
    assert kept.prepare().listed == 0  # rejected: URL keys until the next try
    monkeypatch.setattr(subprocess, "run", real)
    monkeypatch.setattr(extractor_index, "RETRY_AFTER_S", 0.0)
    assert kept.index().find(NEW_URL) == Found("NewSite", "42")


# ---- the gateway's memory ---------------------------------------------------------------------


def test_keying_links_does_not_load_ytdlp():
    code = (
        "import sys; from core import extractor_index; from core.media_keys import request_key;"
        "extractor_index.prepare();"
        "keys = [request_key(u).key for u in ('https://youtu.be/dQw4w9WgXcQ', 'https://example.com/v.mp4',"
        " 'https://www.instagram.com/reel/C1a2B3c4D5e/')];"
        "print(keys, sorted(m for m in sys.modules if m.startswith('yt_dlp')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip()
        == str(["Youtube:dQw4w9WgXcQ", "url:https://example.com/v.mp4", "Instagram:C1a2B3c4D5e"]) + " []"
    )
