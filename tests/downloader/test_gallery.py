"""The second engine: gallery-dl reads the sandbox's image posts (`gallery.html`) through the real
egress proxy; items arrive in the post's order as photos (JPEG and PNG kept as they are) and
H.264/AAC videos, with the post's text; 14 items make albums of 10 and 4; the limits, cookies and
failure classes of a download hold; nothing of a post reaches a place the guard refuses, not an
item on this machine's loopback, not a redirect to it (a canary counts every connection)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
import trio

from core.config import Settings, load_settings
from downloader import media
from downloader.egress import EgressProxy, EgressRefused, Policy, open_egress_proxy
from downloader.engine import Control
from downloader.errors import ClassifiedError, ErrorClass
from downloader.gallery import Gallery, GalleryEngine, albums, site_of
from downloader.gallery_media import PHOTO_MAX_SIDE, make_item
from sandbox.media_gallery import GALLERY_IMAGES
from sandbox.server import serve
from tests.downloader.egress_servers import Canary

DEADLINE_S = 120.0  # one post of a few items, converted, on a loaded machine
GUARD = "slot0"
TOKEN = "123456:abcdefghijklmnopqrstuvwxyz0123456789ABC"
PERSIAN_TEXT = "سلام! این یک پست با عکس و ویدیو است 🎬"


@dataclass
class Bed:
    sandbox: str
    media: Path
    canary: Canary
    proxy: EgressProxy
    settings: Settings
    out: Path

    def gallery(self, **query: object) -> str:
        pairs = [(k, str(v)) for k, v in query.items() if k != "extra"]
        extras = query.get("extra", [])
        pairs += [("extra", url) for url in extras] if isinstance(extras, list) else []
        return f"{self.sandbox}/media/gallery.html?{urlencode(pairs, quote_via=quote)}"

    async def fetch(
        self,
        url: str,
        *,
        settings: Settings | None = None,
        control: Control | None = None,
        cookiefile: Path | None = None,
    ) -> Gallery:
        engine = GalleryEngine(settings or self.settings, self.proxy)
        run = partial(engine.fetch, url, self.out, guard=GUARD, control=control, cookiefile=cookiefile)
        with trio.fail_after(DEADLINE_S):
            return await trio.to_thread.run_sync(run, abandon_on_cancel=True)

    def untouched(self) -> None:
        assert self.canary.connections == [], f"the canary was reached: {self.canary.connections}"


@pytest.fixture
async def bed(tmp_path: Path, nursery: trio.Nursery) -> AsyncIterator[Bed]:
    media_dir = Path(os.environ["SANDBOX_MEDIA_DIR"])  # the session's shared samples (tests/conftest.py)
    sandbox: str = await nursery.start(partial(serve, 0, tmp_path / "sandbox", media_dir=media_dir))
    canary = Canary()
    listeners = await nursery.start(partial(trio.serve_tcp, canary.handle, 0, host="127.0.0.1"))
    canary.port = listeners[0].socket.getsockname()[1]
    origin = urlsplit(sandbox)
    settings = load_settings(environ={"BOT_TOKEN": TOKEN, "DATA_DIR": str(tmp_path / "data")}, env_file=None)
    async with open_egress_proxy(Policy.sandbox((str(origin.hostname), int(origin.port or 0)))) as proxy:
        yield Bed(sandbox, media_dir, canary, proxy, settings, tmp_path / "out")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_three_images_and_a_video_arrive_in_order_with_the_posts_text(bed: Bed) -> None:
    control = Control()
    post = await bed.fetch(bed.gallery(images=3, videos=1, text=PERSIAN_TEXT), control=control)
    assert [item.kind for item in post.items] == ["photo", "video", "photo", "photo"]
    assert post.caption == PERSIAN_TEXT and post.site == "generic" and not post.truncated
    photos = [item for item in post.items if item.kind == "photo"]
    for item, sample in zip(photos, GALLERY_IMAGES[:3], strict=True):
        assert item.path.suffix == Path(sample.name).suffix  # JPEG and PNG stay as they are
        assert sha256(item.path) == sha256(bed.media / sample.name)
        assert (item.width, item.height) == (sample.width, sample.height)
    video = post.items[1]
    found = media.inspect(video.path)
    assert (found.vcodec, found.acodec, found.faststart) == ("h264", "aac", True)
    assert video.duration == 4 and video.thumbnail is not None and video.thumbnail.is_file()
    assert control.done_bytes == sum((bed.media / name).stat().st_size for name in [
        GALLERY_IMAGES[0].name, "sample.mp4", GALLERY_IMAGES[1].name, GALLERY_IMAGES[2].name
    ])  # fmt: skip
    assert [len(album) for album in albums(post.items)] == [4]
    assert len(bed.proxy.refusals(GUARD)) == 0 and bed.proxy.connections >= 5  # the page and 4 files
    bed.untouched()


async def test_fourteen_items_make_albums_of_ten_and_four_and_webm_becomes_h264(bed: Bed) -> None:
    post = await bed.fetch(bed.gallery(images=10, videos=4))
    kinds = [item.kind for item in post.items]
    assert kinds == ["photo", "video"] * 4 + ["photo"] * 6
    assert [len(album) for album in albums(post.items)] == [10, 4]
    videos = [media.inspect(item.path) for item in post.items if item.kind == "video"]
    assert {(v.vcodec, v.acodec) for v in videos} == {("h264", "aac")}  # samples 2 and 4 were VP9/Opus


async def test_a_post_longer_than_the_cap_is_cut_and_says_so(bed: Bed) -> None:
    settings = replace(bed.settings, gallery_max_items=5)
    post = await bed.fetch(bed.gallery(images=8), settings=settings)
    assert len(post.items) == 5 and post.truncated
    assert sorted(p.name for p in bed.out.iterdir()) == ["01", "02", "03", "04", "05"]


async def test_an_item_over_the_size_cap_fails_the_post_as_too_large(bed: Bed) -> None:
    settings = replace(bed.settings, max_file_mb=1)
    url = bed.gallery(images=1, extra=[f"{bed.sandbox}/media/blob?size={2 * 1024 * 1024}"])
    with pytest.raises(ClassifiedError) as caught:
        await bed.fetch(url, settings=settings)
    assert caught.value.error_class is ErrorClass.TOO_LARGE


@pytest.mark.parametrize("how", ["an image on loopback", "a redirect to loopback", "a page on loopback"])
async def test_nothing_of_a_post_reaches_a_place_the_guard_refuses(bed: Bed, how: str) -> None:
    canary_image = bed.canary.url("/a.jpg")
    url = {
        "an image on loopback": bed.gallery(images=2, extra=[canary_image]),
        "a redirect to loopback": bed.gallery(
            images=2, extra=[f"{bed.sandbox}/media/redirect?to={quote(canary_image)}"]
        ),
        "a page on loopback": bed.canary.url("/gallery.html"),
    }[how]
    with pytest.raises(EgressRefused):
        await bed.fetch(url)
    bed.untouched()
    assert bed.proxy.refusals(GUARD), "the guard recorded no refusal"


async def test_the_cookie_file_of_the_job_goes_with_the_posts_requests(bed: Bed, tmp_path: Path) -> None:
    item = f"{bed.sandbox}/media/cookie?name=sid&value=s3cr3t"
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\ts3cr3t\n")
    with pytest.raises(ClassifiedError) as caught:
        await bed.fetch(bed.gallery(images=0, extra=[item]))
    assert caught.value.error_class in (ErrorClass.LOGIN_REQUIRED, ErrorClass.PRIVATE)
    post = await bed.fetch(bed.gallery(images=0, extra=[item]), cookiefile=cookies)
    assert [i.kind for i in post.items] == ["video"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/media/no-such-post.html", ErrorClass.NOT_FOUND), ("/media/gallery.html?images=0", ErrorClass.UNSUPPORTED)],
)
async def test_failures_are_the_downloaders_classes(bed: Bed, path: str, expected: ErrorClass) -> None:
    with pytest.raises(ClassifiedError) as caught:
        await bed.fetch(bed.sandbox + path)
    assert caught.value.error_class is expected


async def test_a_cancelled_fetch_stops_between_chunks(bed: Bed) -> None:
    control = Control()
    control.cancel.set()
    with pytest.raises(Exception) as caught:
        await bed.fetch(bed.gallery(images=2), control=control)
    assert type(caught.value).__name__ == "Cancelled"
    assert not any(bed.out.glob("*/photo.*"))


def _picture(path: Path, size: str, *codec: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}",
         "-frames:v", "1", *codec, str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def test_a_webp_picture_becomes_a_jpeg_photo_within_telegrams_sizes(tmp_path: Path) -> None:
    webp = _picture(tmp_path / "download", "3000x1000", "-c:v", "libwebp", "-f", "webp")
    item = make_item(webp, tmp_path, Control().cancel, max_duration_s=60)
    assert item is not None and item.kind == "photo" and item.path.name == "photo.jpg"
    assert item.path.read_bytes()[:3] == b"\xff\xd8\xff" and not webp.exists()
    assert (item.width, item.height) == (PHOTO_MAX_SIDE, 852)  # the long side capped, sizes even


def test_a_picture_telegram_refuses_as_a_photo_goes_as_a_document(tmp_path: Path) -> None:
    strip = _picture(tmp_path / "download", "2100x100", "-f", "image2", "-c:v", "png")
    item = make_item(strip, tmp_path, Control().cancel, max_duration_s=60)
    assert item is not None and item.kind == "document" and (item.width, item.height) == (2100, 100)


def test_site_of_names_sites_gallery_dl_knows_and_not_the_catch_all_ones() -> None:
    assert site_of("https://www.instagram.com/p/Cabcdefghij/") == "instagram"
    assert site_of("https://x.com/someone/status/1234567890123456789") == "twitter"
    assert site_of("http://127.0.0.1:8080/media/gallery.html") is None
    assert site_of("https://example.com/photo.jpg") is None  # a direct link: not a site
    assert site_of("r:https://example.com/") is None


def test_the_installed_gallery_dl_is_the_pinned_one() -> None:
    from gallery_dl.version import __version__

    pins = Path(__file__).resolve().parents[2].joinpath("requirements.txt").read_text().splitlines()
    assert f"gallery-dl=={__version__}" in [line.split("#")[0].strip() for line in pins]
