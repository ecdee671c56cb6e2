"""Canonical media keys with yt-dlp's real extractors.

Keys from URLs are computed with every socket refused (nothing may be fetched); the index's
answer (extractor and id, from the table built from yt-dlp) is compared with yt-dlp's own
one-by-one loop on its extractors' test URLs; keys after a probe come from real yt-dlp runs
against a local HTTP server with redirects. tests/gateway/test_extractor_index.py tests how the
table is read from yt-dlp's code and kept current.
"""

from __future__ import annotations

import http.server
import re
import socket
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, ClassVar

import pytest
import yt_dlp
from yt_dlp.extractor import gen_extractor_classes

from core import extractor_index
from core.extractor_index import GENERIC, ExtractorIndex, Found
from core.extractor_patterns import _best, _required
from core.extractor_table import _base_classes
from core.media_keys import final_key, normalize_url, request_key
from core.telegram import Entity
from gateway.links import find_links

SAMPLE_SIZE = 300  # yt-dlp test URLs compared one by one with the naive loop (~5 ms each)
VARIANT_EVERY = 4  # every 4th sampled URL (and every tricky one) is also tried in altered spellings
YTDLP_TIMEOUT_S = 10


# ---- no network ------------------------------------------------------------------------------


@contextmanager
def refusing_network() -> Iterator[list[str]]:
    """Every connect or name lookup fails the test; the attempts are listed."""
    attempts: list[str] = []

    def refuse(what: str):
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise AssertionError(f"network used: {attempts[-1]}")

        return refused

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse("socket.connect"))
        patch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
        patch.setattr(socket.socket, "sendto", refuse("socket.sendto"))
        patch.setattr(socket, "create_connection", refuse("create_connection"))
        patch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
        yield attempts


@pytest.fixture(scope="module")
def index() -> ExtractorIndex:
    with refusing_network() as attempts:
        built = extractor_index.prepare()
    assert attempts == []
    return built


@pytest.fixture
def offline(index: ExtractorIndex) -> Iterator[None]:
    with refusing_network() as attempts:
        yield
    assert attempts == []


def keys(*urls: str) -> set[str]:
    return {request_key(url).key for url in urls}


# ---- keys from the URL alone -------------------------------------------------------------------


def test_youtube_spellings_give_one_key(offline: None):
    video = "dQw4w9WgXcQ"
    spellings = [
        f"https://youtu.be/{video}",
        f"https://youtu.be/{video}?si=Ab12Cd34Ef56&t=42",
        f"https://www.youtube.com/watch?v={video}&si=Ab12Cd34Ef56",
        f"https://youtube.com/watch?feature=share&v={video}",
        f"https://m.youtube.com/watch?v={video}",
        f"https://music.youtube.com/watch?v={video}&feature=share",
        f"https://www.youtube.com/shorts/{video}",
        f"https://www.youtube.com/embed/{video}",
        f"https://www.youtube.com/live/{video}?feature=share",
        f"https://www.youtube-nocookie.com/embed/{video}",
        f"https://www.youtube.com/watch?v={video}#t=10",
    ]
    assert keys(*spellings) == {f"Youtube:{video}"}
    ref = request_key(spellings[0])
    assert (ref.platform, ref.media_id) == ("Youtube", video)
    # yt-dlp takes a watch URL with a playlist as the playlist: so do the keys
    playlist = "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
    assert request_key(f"https://www.youtube.com/watch?v={video}&list={playlist}").key == f"YoutubeTab:{playlist}"
    assert request_key(f"https://youtu.be/{video[:-1]}x").key != f"Youtube:{video}"


def test_capitalised_links_from_messages_find_their_extractor(offline: None):
    # yt-dlp's YouTube pattern is case-sensitive: as typed, this would go to the generic extractor
    typed = "Https://Youtube.com/watch?v=dQw4w9WgXcQ"
    assert request_key(typed).platform == "Generic"
    [link] = find_links(typed, [Entity("url", 0, len(typed))], 5).links
    assert request_key(link).key == "Youtube:dQw4w9WgXcQ"


def test_instagram_post_and_reel_forms_give_one_key(offline: None):
    code = "C1a2B3c4D5e"
    spellings = [
        f"https://www.instagram.com/p/{code}/",
        f"https://www.instagram.com/reel/{code}/?igsh=MWQ1ZGUxMzBkMA==",
        f"https://www.instagram.com/reels/{code}/",
        f"https://instagram.com/tv/{code}",
        f"https://www.instagram.com/someone/p/{code}/?utm_source=ig_web_copy_link",
    ]
    assert keys(*spellings) == {f"Instagram:{code}"}


def test_other_sites_by_their_extractor_ids(offline: None):
    assert keys(
        "https://www.tiktok.com/@someone/video/7301234567890123456?is_from_webapp=1&sender_device=pc",
        "https://www.tiktok.com/@someone/video/7301234567890123456",
    ) == {"TikTok:7301234567890123456"}
    assert keys(
        "https://x.com/someone/status/1234567890123456789?s=20",
        "https://twitter.com/someone/status/1234567890123456789",
    ) == {"Twitter:1234567890123456789"}


def test_generic_links_drop_tracking_but_keep_what_selects_content(offline: None):
    assert keys(
        "https://example.com/v.mp4?utm_source=x&utm_medium=y&id=3",
        "https://example.com/v.mp4?id=3",
        "https://example.com/v.mp4?id=3&fbclid=IwAR0abc&gclid=1&igshid=2&si=3#player",
        "HTTPS://Example.COM:443/v.mp4?UTM_Campaign=z&id=3",
    ) == {"url:https://example.com/v.mp4?id=3"}
    ref = request_key("https://example.com/v.mp4?id=3")
    assert (ref.platform, ref.media_id) == ("Generic", None)
    assert len(keys("https://example.com/v.mp4?id=3", "https://example.com/v.mp4?id=4")) == 2
    kept = "https://example.com/watch?page=2&v=9&t=30&feature=hd&ref=home"
    assert request_key(kept).key == "url:" + kept
    assert request_key("https://example.com/a?b=1&a=2").key != request_key("https://example.com/a?a=2&b=1").key


def test_same_path_on_two_hosts_are_two_keys(offline: None):
    assert len(keys("https://one.example/files/video.mp4", "https://two.example/files/video.mp4")) == 2
    assert len(keys("https://example.com/video.mp4", "https://example.com:8443/video.mp4")) == 2
    assert len(keys("http://example.com/video.mp4", "https://example.com/video.mp4")) == 2


def test_normalisation_of_hosts_paths_and_encodings():
    assert normalize_url("https://EXAMPLE.com./") == "https://example.com/"
    assert normalize_url("https://example.com") == "https://example.com/"
    assert normalize_url("http://example.com:80/a") == normalize_url("http://example.com/a") == "http://example.com/a"
    assert normalize_url("https://user:pw@example.com/a") == "https://user:pw@example.com/a"
    assert normalize_url("https://[::1]:8080/a#x") == "https://[::1]:8080/a"
    # a Persian host and path, as typed and as a browser sends them
    typed = normalize_url("https://ویدیو.ایران/فیلم ۱.mp4?q=سلام")
    sent = normalize_url(
        "https://xn--ugb3cb04cb.xn--mgba3a4f16a/%D9%81%DB%8C%D9%84%D9%85%20%DB%B1.mp4?q=%d8%b3%d9%84%d8%a7%d9%85"
    )
    assert typed == sent and typed.isascii()
    assert normalize_url("https://example.com/%7Euser/a%2fb") == "https://example.com/~user/a%2Fb"
    for url in ["https://ویدیو.ایران/فیلم ۱.mp4?q=سلام&utm_id=1", "HTTP://A.example:80/x?&&y=1#z", "https://x:bad/"]:
        assert normalize_url(normalize_url(url)) == normalize_url(url)


# ---- the index answers what yt-dlp's loop answers ---------------------------------------------


def listed() -> list[Any]:
    """yt-dlp's extractors in its order, up to Generic (which it tries last)."""
    classes = gen_extractor_classes()
    return classes[: [ie.ie_key() for ie in classes].index(GENERIC)]


def ytdlp_choice(url: str) -> Found | None:
    """As YoutubeDL.extract_info picks: the first suitable extractor in yt-dlp's order, and the
    id it reads from the URL."""
    ie = next(ie for ie in gen_extractor_classes() if ie.suitable(url))
    return None if ie.ie_key() == GENERIC else Found(ie.ie_key(), ie.get_temp_id(url))


def altered(url: str) -> list[str]:
    """Spellings that exercise case folding (yt-dlp matches some patterns case-insensitively,
    and Python then equates 'ſ' with 's' and the Kelvin sign with 'k'), tracking and fragments."""
    return [
        url.upper(),
        url.replace("s", "\u017f").replace("k", "\u212a"),
        url + ("&" if "?" in url else "?") + "utm_source=x#frag",
        url.replace("https://", "http://", 1).replace("www.", "", 1),
    ]


def ignores_case(ie: Any) -> bool:
    patterns = ie._VALID_URL if isinstance(ie._VALID_URL, (list, tuple)) else [ie._VALID_URL]
    return any(p and (re.compile(p).flags & re.IGNORECASE or "(?i" in p) for p in patterns)


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[str]]:
    """A sample of the URLs in yt-dlp's own extractor tests (data, no network), and apart the
    tricky ones: up to three of each extractor that has its own suitable() or ignores case."""
    with refusing_network():
        by_extractor = {
            ie: [t["url"] for t in ie.get_testcases(include_onlymatching=True) if isinstance(t.get("url"), str)]
            for ie in listed()
        }
    plain = {vars(base)["suitable"].__func__ for base in _base_classes()}
    tricky = {ie for ie in by_extractor if ie.suitable.__func__ not in plain or ignores_case(ie)}
    special = sorted({url for ie in tricky for url in by_extractor[ie][:3]})
    everything = sorted({url for urls in by_extractor.values() for url in urls} - set(special))
    return everything[:: max(1, len(everything) // SAMPLE_SIZE)], special


def test_indexed_match_equals_ytdlp_loop_on_its_test_urls(index: ExtractorIndex, corpus: tuple[list[str], list[str]]):
    sample, special = corpus
    urls = sample + special + [variant for url in special + sample[::VARIANT_EVERY] for variant in altered(url)]
    with refusing_network():
        answers = [(url, ytdlp_choice(url), index.find(url)) for url in urls]
    wrong = [(url, want, got) for url, want, got in answers if want != got]
    assert wrong == [], f"{len(wrong)} of {len(urls)} differ, e.g. {wrong[:5]}"
    assert len(urls) > 1000
    sites = [want for _, want, _ in answers[: len(sample)] if want is not None]
    assert len(sites) > len(sample) * 0.9  # yt-dlp's test URLs are its sites' URLs, few are generic
    assert sum(1 for want in sites if want.media_id) > len(sites) * 0.8  # and most carry an id


def test_the_case_folding_table_is_the_regex_engines():
    every = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    for letter in string.ascii_letters:
        expected = {ch for ch, ascii_ in extractor_index.FOLD_EXTRA.items() if ascii_ == letter.lower()}
        for pattern in (re.escape(letter), f"[{letter}]"):
            assert set(re.compile(pattern, re.IGNORECASE).findall(every)) == expected, pattern
    others = "".join(re.escape(ch) for ch in map(chr, range(128)) if ch not in string.ascii_letters)
    assert re.compile(f"[{others}]", re.IGNORECASE).findall(every) == []


def required(pattern: str) -> frozenset[str] | None:
    return _best(_required(sre_parse.parse(pattern)))


def test_required_strings_read_from_patterns():
    assert required(r"https?://(?:www\.)?(?:abc|xyz)\.com/v/(?P<id>\d+)") == {"abc.com/v/", "xyz.com/v/"}
    assert required(r"(?i)https?://Example\.COM/watch") == {"example.com/watch"}
    assert required(r"(?x) https?:// [^/]+ /embed/ (?P<id>\d+)") == {"/embed/"}
    assert required(r"https?://(?:[^/]+\.)?site\.tv/(?:video|clip)s?/(?P<id>\d+)") == {
        "site.tv/video/",
        "site.tv/videos/",
        "site.tv/clip/",
        "site.tv/clips/",
    }
    assert required(r"(?:https?://(?:www\.)?site\.tv/|site:)(?P<id>\d+)") == {"site.tv/", "site:"}
    assert required(r"(?P<id>[0-9A-Za-z_-]{11})") is None
    assert required(r"https?://.+") == {"http://", "https://"}  # weak, but true


# ---- keys after a probe ----------------------------------------------------------------------


def test_final_keys_from_info_dicts():
    assert final_key({"extractor_key": "Youtube", "id": "dQw4w9WgXcQ", "webpage_url": "https://youtu.be/x"}) == (
        "Youtube:dQw4w9WgXcQ"
    )
    generic = {"extractor_key": "Generic", "id": "video", "webpage_url": "https://Example.com/video.mp4?utm_source=a"}
    assert final_key(generic) == "url:https://example.com/video.mp4"
    with pytest.raises(ValueError):
        final_key({"extractor_key": "Generic", "id": "video"})


class _Site(http.server.BaseHTTPRequestHandler):
    """A file, redirects to it (HTTP and meta refresh) and a page that embeds it by og:video."""

    paths: ClassVar[list[str]]
    base: ClassVar[str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self.reply(body=False)

    def do_GET(self) -> None:
        self.reply(body=True)

    def reply(self, body: bool) -> None:
        self.paths.append(self.path)
        base, path = self.base, self.path.split("?")[0]
        if path == "/go":
            self.send(302, b"", [("Location", "/files/v.mp4?utm_source=short&fbclid=1")], body)
        elif path == "/go-page":
            self.send(302, b"", [("Location", f"{base}/page?utm_campaign=c")], body)
        elif path == "/refresh":
            refresh = b'<html><head><meta http-equiv="refresh" content="0; url=/files/v.mp4"></head></html>'
            self.send(200, refresh, [("Content-Type", "text/html")], body)
        elif path == "/files/v.mp4":
            self.send(200, b"\x00\x00\x00\x18ftypmp42" + bytes(200), [("Content-Type", "video/mp4")], body)
        elif path == "/page":
            html = f'<html><head><title>T</title><meta property="og:video" content="{base}/files/v.mp4"></head></html>'
            self.send(200, html.encode(), [("Content-Type", "text/html")], body)
        else:
            self.send(404, b"", [], body)

    def send(self, status: int, data: bytes, headers: list[tuple[str, str]], body: bool) -> None:
        self.send_response(status)
        for name, value in [*headers, ("Content-Length", str(len(data)))]:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


@pytest.fixture
def site() -> Iterator[tuple[str, list[str]]]:
    class Handler(_Site):
        paths: ClassVar[list[str]] = []

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Handler.base, Handler.paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=YTDLP_TIMEOUT_S)


def probe(url: str) -> dict[str, Any]:
    options = {"quiet": True, "no_warnings": True, "cachedir": False, "proxy": "", "socket_timeout": YTDLP_TIMEOUT_S}
    with yt_dlp.YoutubeDL(options) as ydl:
        return dict(ydl.sanitize_info(ydl.extract_info(url, download=False)))


def test_a_redirect_and_its_target_get_one_key(site: tuple[str, list[str]]):
    base, paths = site
    direct, redirected, refreshed = probe(f"{base}/files/v.mp4"), probe(f"{base}/go"), probe(f"{base}/refresh")
    assert {info["extractor_key"] for info in (direct, redirected, refreshed)} == {"Generic"}
    assert redirected["original_url"] == f"{base}/go"  # what the user sent is kept apart
    file_key = final_key(direct)
    assert file_key == final_key(redirected) == final_key(refreshed) == f"url:{base}/files/v.mp4"
    assert request_key(f"{base}/files/v.mp4").key == file_key  # no redirect: known before the probe
    assert request_key(f"{base}/go").key != file_key  # media_aliases links the two after the probe
    page, via_redirect = probe(f"{base}/page"), probe(f"{base}/go-page")
    assert page["url"] == f"{base}/files/v.mp4"  # the media is the file, the key is the page
    assert final_key(page) == final_key(via_redirect) == f"url:{base}/page" != file_key
    assert {"/go", "/refresh", "/page"} <= {p.split("?")[0] for p in paths}
