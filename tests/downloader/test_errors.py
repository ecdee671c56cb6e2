"""Error classes: real yt-dlp runs against a local server, and yt-dlp's own exception paths.

The platform messages (YouTube, Instagram) are raised by a scripted extractor through yt-dlp's real
`InfoExtractor` helpers (`raise_no_formats`, `raise_login_required`, `raise_geo_restricted`, ...),
so that `YoutubeDL.extract_info` wraps them exactly as it wraps the real extractors' errors.
"""

from __future__ import annotations

import io
import os
import random
import re
import socket
import stat
import threading
from collections.abc import Callable, Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yt_dlp
from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadCancelled, DownloadError, ExtractorError, UserNotLive

from core.backoff import Backoff
from core.config import load_settings
from core.texts import LANGUAGES
from downloader.errors import (
    CLASSES,
    ClassifiedError,
    ErrorClass,
    Failure,
    classify,
    failure_text,
    log_failure,
    retry_delay,
    user_text,
)

SOCKET_TIMEOUT = 10.0  # generous: a loaded machine; the hang route uses its own short one
HANG_TIMEOUT = 0.5
VIDEO_BYTES = 64 * 1024
RETRY_AFTER = 7


class _Handler(BaseHTTPRequestHandler):
    """Routes: /status/<code>, /cut, /hang, /page (HTML, no media), /video.mp4, /partial.mp4, /expiring.mp4,
    /away?to=URL (a 302 to URL)."""

    server: LocalServer

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = self.path.split("?")[0]
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            self.send_response(code)
            if code == 429:
                self.send_header("Retry-After", str(RETRY_AFTER))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/away":
            self.send_response(302)
            self.send_header("Location", self.path.partition("?to=")[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/cut":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif path == "/hang":
            self.server.release.wait(SOCKET_TIMEOUT)
            self.close_connection = True
        elif path == "/page":
            self._send(b"<html><head><title>No media</title></head><body><p>Just words.</p></body></html>", "text/html")
        elif path == "/expiring.mp4":  # the page is read fine, the media URL is then refused
            if self.server.requests.count(self.path) == 1:
                self._send(b"\0" * VIDEO_BYTES, "video/mp4")
            else:
                self.send_error(403)
        elif path == "/video.mp4":
            self._send(b"\0" * VIDEO_BYTES, "video/mp4")
        elif path == "/partial.mp4":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(VIDEO_BYTES))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(b"\0" * (VIDEO_BYTES // 8))
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)


class LocalServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1, port 0, in a thread; `close()` stops it and its handlers."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler] = _Handler) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[str] = []
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, name="local-http", daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()
        self.thread.join(SOCKET_TIMEOUT)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def settings():
    return load_settings(environ={}, env_file=None)


class _Quiet:
    """yt-dlp's logger interface; errors are what the tests look at, not what they print."""

    def debug(self, msg: str) -> None:
        pass

    warning = error = info = debug


def run_ytdlp(url: str, *, download: bool = False, **params: object) -> BaseException:
    """Run yt-dlp on `url` and return what it raised (failing the test if it raised nothing)."""
    options: dict[str, object] = {"quiet": True, "no_warnings": True, "noprogress": True, "logger": _Quiet()}
    options["socket_timeout"] = SOCKET_TIMEOUT
    options.update(params)
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            ydl.extract_info(url, download=download)
    except BaseException as exc:
        return exc
    pytest.fail(f"yt-dlp did not fail on {url}")


def assert_private_to_users(failure: Failure, settings) -> None:
    """Every language's text exists and shows nothing of the raw reason."""
    for lang in LANGUAGES:
        shown = failure_text(failure, lang, settings)
        assert shown and "{" not in shown
        assert failure.reason not in shown
        for leak in ("HTTP", "127.0.0.1", "ERROR", "Error", "yt-dlp", "--cookies"):
            assert leak not in shown, (lang, leak, shown)


# ---- real runs against the local server ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/status/404", ErrorClass.NOT_FOUND),
        ("/status/410", ErrorClass.NOT_FOUND),
        ("/status/403", ErrorClass.PRIVATE),
        ("/status/451", ErrorClass.GEO_BLOCKED),
        ("/status/401", ErrorClass.LOGIN_REQUIRED),
        ("/status/429", ErrorClass.RATE_LIMITED),
        ("/status/500", ErrorClass.NETWORK),
        ("/status/503", ErrorClass.NETWORK),
        ("/cut", ErrorClass.NETWORK),
        ("/page", ErrorClass.UNSUPPORTED),
    ],
)
def test_a_real_probe_against_a_local_server_is_classified(server, settings, path, expected):
    exc = run_ytdlp(server.url(path))
    assert isinstance(exc, DownloadError)
    failure = classify(exc)
    assert failure.cls is expected, failure
    assert failure.reason.startswith("DownloadError: ") and "ERROR:" not in failure.reason
    if path.startswith("/status/"):
        assert f"HTTP Error {path.rsplit('/', 1)[1]}" in failure.reason  # the raw reason, for the log
    assert server.requests, "yt-dlp never reached the server"
    assert_private_to_users(failure, settings)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x.mp4", "gopher://127.0.0.1/x"])
def test_a_redirect_out_of_the_web_is_unsupported_and_not_retried(server, settings, target):
    failure = classify(run_ytdlp(server.url(f"/away?to={target}")))
    assert failure.cls is ErrorClass.UNSUPPORTED and not failure.retryable, failure
    assert_private_to_users(failure, settings)


def test_429_carries_the_platforms_retry_after(server):
    failure = classify(run_ytdlp(server.url("/status/429")))
    assert failure.cls is ErrorClass.RATE_LIMITED
    assert failure.retry_after == RETRY_AFTER
    assert failure.retryable and failure.platform_fault


def test_a_server_that_never_answers_is_a_network_failure(server):
    failure = classify(run_ytdlp(server.url("/hang"), socket_timeout=HANG_TIMEOUT))
    assert failure.cls is ErrorClass.NETWORK, failure
    assert "timed out" in failure.reason.lower()


def test_a_download_cut_half_way_is_a_network_failure(server, tmp_path):
    exc = run_ytdlp(
        server.url("/partial.mp4"), download=True, retries=0, paths={"home": str(tmp_path)}, outtmpl="%(id)s.%(ext)s"
    )
    failure = classify(exc)
    assert failure.cls is ErrorClass.NETWORK, failure
    assert failure.retryable and failure.platform_fault


def test_a_media_url_refused_after_extraction_is_the_extractor_not_the_item(server, tmp_path):
    exc = run_ytdlp(server.url("/expiring.mp4"), download=True, paths={"home": str(tmp_path)})
    failure = classify(exc)
    assert "unable to download video data: HTTP Error 403" in failure.reason
    assert failure.cls is ErrorClass.EXTRACTOR and failure.retryable and failure.platform_fault


@pytest.mark.skipif(
    not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)), reason="needs /dev/full"
)
def test_a_download_onto_a_full_disk_is_disk_full(server, tmp_path):
    # A symlink to /dev/full: every write fails with ENOSPC, as on a full disk. (Never point outtmpl at
    # /dev/full itself: with overwrites on, yt-dlp would delete the device node.)
    target = tmp_path / "video.mp4"
    target.symlink_to("/dev/full")
    exc = run_ytdlp(server.url("/video.mp4"), download=True, outtmpl=str(target), nopart=True)
    failure = classify(exc)
    assert failure.cls is ErrorClass.DISK_FULL, failure
    assert failure.retryable and not failure.platform_fault
    assert target.is_symlink()


def test_a_hook_that_cancels_a_real_download_is_cancelled(server, tmp_path):
    def stop(progress: dict) -> None:
        raise DownloadCancelled()

    exc = run_ytdlp(server.url("/video.mp4"), download=True, progress_hooks=[stop], paths={"home": str(tmp_path)})
    failure = classify(exc)
    assert failure.cls is ErrorClass.CANCELLED
    assert not failure.retryable and not failure.platform_fault


def test_text_that_is_not_a_url_is_unsupported():
    failure = classify(run_ytdlp("not a link at all"))
    assert failure.cls is ErrorClass.UNSUPPORTED
    assert "is not a valid URL" in failure.reason


# ---- the platforms' own words, raised through yt-dlp's extractor helpers ---------------------------

_LOGIN_HINT = (
    "Use --cookies-from-browser or --cookies for the authentication. See  "
    "https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to manually pass cookies"
)
_YT_HINT = f"{_LOGIN_HINT}. Also see  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-youtube-cookies  "
_YT_HINT += "for tips on effectively exporting YouTube cookies"

Script = Callable[[InfoExtractor, str], None]


def _no_formats(reason: str) -> Script:
    """What YouTube's extractor does with a playability reason: raise_no_formats(reason, expected=True)."""
    return lambda ie, video_id: ie.raise_no_formats(reason, expected=True, video_id=video_id)


def _login(reason: str) -> Script:
    return lambda ie, video_id: ie.raise_login_required(reason)


def _raise(exc: BaseException) -> Script:
    def script(ie: InfoExtractor, video_id: str) -> None:
        raise exc

    return script


def _geo(ie: InfoExtractor, video_id: str) -> None:
    ie.raise_geo_restricted("The uploader has not made this video available in your country", countries=["DE"])


def _layout_changed(ie: InfoExtractor, video_id: str) -> None:
    ie._search_regex(r"var ytInitialData = ({.+?});", "<html>a page we do not know</html>", "initial data")


def _broken(ie: InfoExtractor, video_id: str) -> None:
    player: dict[str, object] = {}
    player["videoDetails"]  # what a changed page does to an extractor that expects a key


class _Refused(ClassifiedError):
    error_class = ErrorClass.FORBIDDEN_ADDRESS


def _wrapped_refusal(ie: InfoExtractor, video_id: str) -> None:
    try:
        raise _Refused("10.0.0.7 is a private address")
    except _Refused as refused:
        raise TransportError(cause=refused) from refused


SCRIPTS: dict[str, tuple[Script, ErrorClass]] = {
    # YouTube
    "bot_curly": (_no_formats(f"Sign in to confirm you’re not a bot. {_YT_HINT}"), ErrorClass.BOT_CHECK),
    "bot_straight": (_no_formats(f"Sign in to confirm you're not a bot. {_YT_HINT}"), ErrorClass.BOT_CHECK),
    "captcha": (
        _no_formats("Video unavailable. YouTube is requiring a captcha challenge before playback"),
        ErrorClass.BOT_CHECK,
    ),
    "private": (
        _no_formats(f"Private video. Sign in if you've been granted access to this video. {_YT_HINT}"),
        ErrorClass.PRIVATE,
    ),
    "private_old": (_no_formats("This video is private"), ErrorClass.PRIVATE),
    "members": (
        _no_formats(
            "Join this channel to get access to members-only content like this video, and other exclusive perks."
        ),
        ErrorClass.PRIVATE,
    ),
    "removed": (_no_formats("Video unavailable. This video has been removed by the uploader"), ErrorClass.NOT_FOUND),
    "terminated": (
        _no_formats(
            "Video unavailable. This video is no longer available because the YouTube account associated "
            "with this video has been terminated."
        ),
        ErrorClass.NOT_FOUND,
    ),
    "tos": (
        _no_formats("This video has been removed for violating YouTube's Terms of Service"),
        ErrorClass.NOT_FOUND,
    ),
    "unavailable": (_no_formats("Video unavailable"), ErrorClass.NOT_FOUND),
    "not_available": (_no_formats("This video is not available"), ErrorClass.NOT_FOUND),
    "yt_rate_limit": (
        _no_formats(
            "Video unavailable. This content isn’t available, try again later. The current session has been "
            "rate-limited by YouTube for up to an hour. It is recommended to use `-t sleep` to add a delay "
            "between video requests to avoid exceeding the rate limit."
        ),
        ErrorClass.RATE_LIMITED,
    ),
    "age": (
        _no_formats(f"Sign in to confirm your age. This video may be inappropriate for some users. {_YT_HINT}"),
        ErrorClass.LOGIN_REQUIRED,
    ),
    "upcoming": (_no_formats("This live event will begin in 3 hours."), ErrorClass.LIVE),
    "premiere": (_no_formats("Premieres in 2 hours"), ErrorClass.LIVE),
    "not_live": (_raise(UserNotLive(video_id="channel")), ErrorClass.NOT_FOUND),
    "geo": (_geo, ErrorClass.GEO_BLOCKED),
    "drm": (_no_formats("This video is DRM protected"), ErrorClass.UNSUPPORTED),
    "layout": (_layout_changed, ErrorClass.EXTRACTOR),
    "broken": (_broken, ErrorClass.EXTRACTOR),
    # Instagram
    "ig_anonymous_limit": (
        _login(
            "The webpage request was redirected to the login page. "
            "You have exceeded the rate-limit for accessing posts anonymously"
        ),
        ErrorClass.RATE_LIMITED,
    ),
    "ig_old_limit": (
        _raise(
            ExtractorError("Requested content is not available, rate-limit reached or login required", expected=True)
        ),
        ErrorClass.RATE_LIMITED,
    ),
    "ig_follow": (
        _login("This content is only available for registered users who follow this account"),
        ErrorClass.PRIVATE,
    ),
    "ig_restricted": (
        _login("Restricted Video: You must be 18 years old or over to see this video"),
        ErrorClass.LOGIN_REQUIRED,
    ),
    "ig_login": (_login("You need to log in to access this content"), ErrorClass.LOGIN_REQUIRED),
    "ig_gone": (_raise(ExtractorError("Sorry, this content isn't available.", expected=True)), ErrorClass.NOT_FOUND),
    "ig_photo": (_no_formats("There is no video in this post"), ErrorClass.UNSUPPORTED),
    # Our own code, deep inside yt-dlp's network layer
    "refused": (_wrapped_refusal, ErrorClass.FORBIDDEN_ADDRESS),
}


class ScriptedIE(InfoExtractor):
    """Stands in for a platform's extractor: `scripted:<name>` runs SCRIPTS[name]."""

    _VALID_URL = r"scripted:(?P<id>\w+)"
    IE_NAME = "scripted"

    def _real_extract(self, url: str) -> dict:
        video_id = self._match_id(url)
        SCRIPTS[video_id][0](self, video_id)
        raise AssertionError("the script did not raise")


def run_scripted(name: str) -> BaseException:
    try:
        with yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "logger": _Quiet()}) as ydl:
            ydl.add_info_extractor(ScriptedIE())
            ydl.extract_info(f"scripted:{name}", download=False, ie_key="Scripted")
    except BaseException as exc:
        return exc
    pytest.fail(f"scripted:{name} did not fail")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_platform_messages_through_youtubedl(name, settings):
    exc = run_scripted(name)
    failure = classify(exc)
    assert failure.cls is SCRIPTS[name][1], (name, failure)
    assert_private_to_users(failure, settings)


def test_youtubedl_wraps_extractor_errors_in_download_error():
    # The shape classify() relies on: DownloadError("ERROR: [ie] id: msg", exc_info of the original).
    exc = run_scripted("bot_curly")
    assert isinstance(exc, DownloadError)
    assert isinstance(exc.exc_info[1], ExtractorError) and exc.exc_info[1].expected
    assert str(exc).startswith("ERROR: [scripted] bot_curly: Sign in to confirm you’re not a bot")


def test_a_crash_inside_an_extractor_is_the_extractor_but_ours_is_internal(server, tmp_path):
    # yt-dlp wraps any exception of an extractor in ExtractorError("An extractor error has occurred.").
    broken = classify(run_scripted("broken"))
    assert broken.cls is ErrorClass.EXTRACTOR and broken.platform_fault and "KeyError" in broken.reason

    def our_hook(progress: dict) -> None:
        progress.pop("no such key, in our code")  # a bug of ours, called by yt-dlp during a real download

    exc = run_ytdlp(server.url("/video.mp4"), download=True, progress_hooks=[our_hook], paths={"home": str(tmp_path)})
    ours = classify(exc)
    assert ours.cls is ErrorClass.INTERNAL and ours.retryable and not ours.platform_fault, ours


def test_words_in_the_link_do_not_decide_the_class(server):
    # The video id (here the file name) and the URL are the user's words: this 404 is still not_found.
    failure = classify(run_ytdlp(server.url("/status/404/private%20video%20login%20required")))
    assert failure.cls is ErrorClass.NOT_FOUND, failure
    assert "private video login required" in failure.reason  # the log keeps them


# ---- exception types built directly ------------------------------------------------------------------


def _http_error(status: int, headers: dict[str, str] | None = None) -> HTTPError:
    return HTTPError(Response(io.BytesIO(b""), "https://example.invalid/v", headers or {}, status=status))


def test_retry_after_as_an_http_date():
    when = formatdate(timeval=__import__("time").time() + 120, usegmt=True)
    failure = classify(
        DownloadError("ERROR: HTTP Error 429", (HTTPError, _http_error(429, {"Retry-After": when}), None))
    )
    assert failure.cls is ErrorClass.RATE_LIMITED
    assert failure.retry_after is not None and 100 <= failure.retry_after <= 121


def test_os_errors():
    assert classify(OSError(28, "No space left on device")).cls is ErrorClass.DISK_FULL
    assert classify(OSError(122, "Disk quota exceeded")).cls is ErrorClass.DISK_FULL
    assert classify(ConnectionResetError(104, "Connection reset by peer")).cls is ErrorClass.NETWORK
    assert classify(TimeoutError("timed out")).cls is ErrorClass.NETWORK
    assert classify(PermissionError(13, "Permission denied")).cls is ErrorClass.INTERNAL


def test_a_classified_error_wins_wherever_it_is_in_the_chain():
    inner = ClassifiedError("video is 3h20m, cap 3h", ErrorClass.TOO_LONG)
    wrapped = ExtractorError("Unable to download webpage: HTTP Error 404", cause=inner, expected=True)
    failure = classify(DownloadError("ERROR: outer", (ExtractorError, wrapped, None)))
    assert failure.cls is ErrorClass.TOO_LONG
    assert classify(ClassifiedError("circuit open", ErrorClass.UNAVAILABLE, retry_after=90)).retry_after == 90


def test_unknown_is_internal():
    assert classify(RuntimeError("something nobody expected")).cls is ErrorClass.INTERNAL
    assert classify(ValueError()).reason == "ValueError"


# ---- the table and the texts ------------------------------------------------------------------------


def test_every_class_has_a_row_and_a_text_in_every_language(settings):
    assert set(CLASSES) == set(ErrorClass)
    samples = {"limit": 2000, "minutes": 3}
    for cls, info in CLASSES.items():
        for lang, table in LANGUAGES.items():
            assert info.text_key in table, (cls, lang)
            shown = user_text(cls, lang, **{k: samples[k] for k in info.values})
            assert shown.strip() and "{" not in shown, (cls, lang)
        assert failure_text(Failure(cls, "raw: HTTP Error 999 at https://x"), "en", settings).strip()


def test_retry_rules():
    transient = {c for c, info in CLASSES.items() if info.retryable}
    assert transient == {
        ErrorClass.RATE_LIMITED,
        ErrorClass.NETWORK,
        ErrorClass.BOT_CHECK,
        ErrorClass.DISK_FULL,
        ErrorClass.EXTRACTOR,
        ErrorClass.INTERNAL,
    }
    counted = {c for c, info in CLASSES.items() if info.platform_fault}
    assert counted == {ErrorClass.RATE_LIMITED, ErrorClass.NETWORK, ErrorClass.BOT_CHECK, ErrorClass.EXTRACTOR}


def test_numbers_use_persian_digits_in_persian(settings):
    shown = failure_text(Failure(ErrorClass.UNAVAILABLE, "circuit open", retry_after=150), "fa", settings)
    assert "۳" in shown and not re.search(r"[0-9]", shown)
    assert "about 3 min" in failure_text(Failure(ErrorClass.UNAVAILABLE, "x", retry_after=150), "en", settings)
    big = failure_text(Failure(ErrorClass.TOO_LARGE, "x"), "fa", settings)
    assert "۲۰۰۰" in big


def test_the_log_line_has_the_job_id_and_the_raw_reason(caplog):
    import logging

    logger = logging.getLogger("test.errors")
    failure = Failure(ErrorClass.NOT_FOUND, "DownloadError: [generic] 404: HTTP Error 404: Not Found")
    with caplog.at_level(logging.INFO, logger="test.errors"):
        log_failure(logger, 42, failure, attempt=1)
    assert [r.getMessage() for r in caplog.records] == [
        "job 42 failed (try 1): not_found: DownloadError: [generic] 404: HTTP Error 404: Not Found"
    ]


def test_failure_struct_is_frozen_and_round_trips():
    import msgspec

    failure = Failure(ErrorClass.RATE_LIMITED, "HTTP Error 429", retry_after=7.0)
    with pytest.raises(AttributeError):
        failure.cls = ErrorClass.NETWORK  # type: ignore[misc]
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(failure), type=Failure) == failure


def test_transient_classes_are_retried_with_backoff_up_to_the_attempts_and_permanent_ones_never():
    backoff = Backoff(base=2.0, maximum=60.0, jitter=0.0)
    network = Failure(ErrorClass.NETWORK, "reset")
    assert [retry_delay(network, n, 3, backoff) for n in (1, 2, 3)] == [2.0, 4.0, None]
    assert retry_delay(Failure(ErrorClass.NOT_FOUND, "404"), 1, 3, backoff) is None
    assert retry_delay(Failure(ErrorClass.LOGIN_REQUIRED, "login"), 1, 3, backoff) is None
    limited = Failure(ErrorClass.RATE_LIMITED, "429", retry_after=30.0)
    assert retry_delay(limited, 1, 3, backoff) == 30.0  # the platform's wait, not ours
    assert retry_delay(Failure(ErrorClass.RATE_LIMITED, "429", retry_after=3600.0), 1, 3, backoff) is None
    jittered = Backoff(base=2.0, maximum=60.0)
    assert retry_delay(network, 1, 3, jittered, random.Random(5)) == retry_delay(
        network, 1, 3, jittered, random.Random(5)
    )
