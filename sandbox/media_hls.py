"""HLS under `/media/`: the variant ladder of `multi.m3u8`, and playlists made per request.

- `multi.m3u8` (a file, written once by `write_master`): a master playlist of three H.264/AAC
  variants (240p, 480p, 720p), each its own media playlist `multi_<name>.m3u8` with segments
  `multi_<name>_NNN.ts`. BANDWIDTH is a variant's peak segment bitrate and AVERAGE-BANDWIDTH its
  mean, measured from the files, so `tbr x duration` is close to what a download weighs. Every
  variant has the subtitle group "subs": WebVTT renditions in Persian (fa) and English (en)
  (EXT-X-MEDIA TYPE=SUBTITLES), each a media playlist `multi_sub_<lang>.m3u8` of one segment
  `multi_sub_<lang>.vtt` with a cue a second (`SUBTITLES`), which yt-dlp lists as subtitles.
- `live.m3u8`: a live media playlist (no EXT-X-ENDLIST): a sliding window over the sample's
  segments whose media sequence advances with the wall clock, one segment duration at a time.
- `long.m3u8?minutes=N`: a VOD playlist of the sample's segments repeated until their EXTINFs
  add up to exactly N minutes (the last one shortened), a discontinuity at each repetition.
- `evil.m3u8?segment=URL&key=URL&method=M&map=URL`: a valid VOD playlist whose only segment is
  the absolute URL given, for testing that a downloader checks where a playlist points. With
  `key=`, the segment is encrypted (`#EXT-X-KEY`, METHOD `method=`: AES-128, the default, or
  SAMPLE-AES) with the key at that URL; with `map=`, its init segment (`#EXT-X-MAP`) is there.
  Everything but the segment is optional; each is an absolute URL of any scheme.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.media_args import bad, number_arg

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
SAMPLE_PLAYLIST = "sample.m3u8"
MASTER_PLAYLIST = "multi.m3u8"
VARIANT_CODECS = "avc1.4d401f,mp4a.40.2"  # H.264 Main level 3.1 (the recipe forces both), AAC-LC
LIVE_WINDOW_SEGMENTS = 3
MAX_LONG_MINUTES = 24 * 60
MAX_SEGMENT_URL_CHARS = 4096
EVIL_SEGMENT_S = 1.0
KEY_METHODS = ("AES-128", "SAMPLE-AES")
EVIL_IV = "0x" + "00" * 16  # a fixed IV: the playlist names one, as encrypted ones usually do
MAP_VERSION = 6  # EXT-X-MAP in a playlist without I-frames needs version 6
BITS_PER_BYTE = 8
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][^\s\"]*:\S+$")  # ffmpeg's "subfile,,start,0,end,0,,:URL" too


@dataclass(frozen=True)
class Variant:
    name: str
    width: int
    height: int
    video_kbps: int

    @property
    def playlist(self) -> str:
        return f"multi_{self.name}.m3u8"

    @property
    def segment_pattern(self) -> str:
        return f"multi_{self.name}_%03d.ts"


VARIANTS = (
    Variant("240p", 426, 240, 250),
    Variant("480p", 854, 480, 700),
    Variant("720p", 1280, 720, 1400),
)


SUBTITLE_GROUP = "subs"
# language -> (its name in the playlist, the text of cue n)
SUBTITLES = {
    "fa": ("فارسی", "زیرنویس شماره {n}"),
    "en": ("English", "Subtitle number {n}"),
}


@dataclass(frozen=True)
class Segment:
    duration: float
    uri: str
    discontinuity: bool = False


def parse_segments(text: str) -> list[Segment]:
    """The segments of a media playlist, in order (EXTINF duration and URI)."""
    found: list[Segment] = []
    duration: float | None = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line.removeprefix("#EXTINF:").split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            found.append(Segment(duration, line))
            duration = None
    return found


def media_playlist(
    segments: list[Segment],
    *,
    sequence: int = 0,
    discontinuity_sequence: int = 0,
    ended: bool = True,
    tags: tuple[str, ...] = (),
    version: int = 3,
) -> str:
    """A media playlist of `segments`; `tags` (EXT-X-KEY, EXT-X-MAP...) come before the first."""
    target = max((math.ceil(s.duration) for s in segments), default=1)
    head = [f"#EXT-X-VERSION:{version}", f"#EXT-X-TARGETDURATION:{target}", f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    lines = ["#EXTM3U", *head]
    if discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    if ended:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    lines += tags
    for segment in segments:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{segment.duration:.6f},", segment.uri]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _cue_time(seconds: int) -> str:
    return f"00:00:{seconds:02d}.000"


def write_subtitles(folder: Path, seconds: int) -> None:
    """Each language's WebVTT file (a cue a second) and the one-segment playlist that holds it."""
    for lang, (_, line) in SUBTITLES.items():
        cues = [f"{_cue_time(n)} --> {_cue_time(n + 1)}\n{line.format(n=n + 1)}\n" for n in range(seconds)]
        (folder / f"multi_sub_{lang}.vtt").write_text("WEBVTT\n\n" + "\n".join(cues), encoding="utf-8")
        playlist = media_playlist([Segment(float(seconds), f"multi_sub_{lang}.vtt")])
        (folder / f"multi_sub_{lang}.m3u8").write_text(playlist)


def write_master(folder: Path, fps: int) -> None:
    """Measure each variant's segments and write the master playlist that lists them."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for lang, (name, _) in SUBTITLES.items():
        lines.append(
            f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}",NAME="{name}",LANGUAGE="{lang}",'
            f'DEFAULT=NO,AUTOSELECT=YES,URI="multi_sub_{lang}.m3u8"'
        )
    for variant in VARIANTS:
        segments = parse_segments((folder / variant.playlist).read_text())
        rates = [(folder / s.uri).stat().st_size * BITS_PER_BYTE / s.duration for s in segments]
        total_s = sum(s.duration for s in segments)
        average = sum((folder / s.uri).stat().st_size for s in segments) * BITS_PER_BYTE / total_s
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={math.ceil(max(rates))},AVERAGE-BANDWIDTH={math.ceil(average)},"
            f'RESOLUTION={variant.width}x{variant.height},FRAME-RATE={fps:.3f},CODECS="{VARIANT_CODECS}",'
            f'SUBTITLES="{SUBTITLE_GROUP}"'
        )
        lines.append(variant.playlist)
    (folder / MASTER_PLAYLIST).write_text("\n".join(lines) + "\n")


def _sample_segments(request: Request) -> list[Segment] | None:
    path: Path = request.app.state.sandbox.media_dir / SAMPLE_PLAYLIST
    try:
        return parse_segments(path.read_text()) or None
    except OSError:
        return None


def _playlist(text: str) -> Response:
    return Response(text, media_type=PLAYLIST_TYPE, headers={"cache-control": "no-cache"})


def _missing() -> Response:
    return JSONResponse({"ok": False, "error": "the sample segments are not there"}, status_code=404)


def live(request: Request) -> Response:
    """A window of the sample's segments that slides forward one segment every segment duration."""
    samples = _sample_segments(request)
    if samples is None:
        return _missing()
    step = max(s.duration for s in samples)
    sequence = int(time.time() / step)
    count = len(samples)
    window = []
    for i in range(LIVE_WINDOW_SEGMENTS):
        n = sequence + i
        window.append(Segment(samples[n % count].duration, samples[n % count].uri, i > 0 and n % count == 0))
    # Each wrap-around that has slid out of the window counts in the discontinuity sequence.
    return _playlist(media_playlist(window, sequence=sequence, discontinuity_sequence=sequence // count, ended=False))


def long_vod(request: Request) -> Response:
    """The sample's segments repeated until they last `minutes`."""
    minutes = number_arg(request, "minutes", MAX_LONG_MINUTES)
    if minutes is None:
        return bad(f"minutes must be a number above 0 and at most {MAX_LONG_MINUTES}")
    samples = _sample_segments(request)
    if samples is None:
        return _missing()
    wanted, total, out = minutes * 60, 0.0, list[Segment]()
    while total < wanted - 1e-6:
        for i, sample in enumerate(samples):
            duration = min(sample.duration, wanted - total)
            if duration <= 1e-6:
                break
            out.append(Segment(duration, sample.uri, discontinuity=i == 0 and bool(out)))
            total += duration
    return _playlist(media_playlist(out))


def evil(request: Request) -> Response:
    """A VOD playlist with one segment at `segment=`, its key at `key=` and init at `map=`, whatever
    they point at."""
    urls = {name: request.query_params.get(name, "") for name in ("segment", "key", "map")}
    for name, url in urls.items():
        if (url or name == "segment") and not _absolute(url):
            return bad(f"{name} must be an absolute URL (scheme:...) on one line")
    method = request.query_params.get("method", KEY_METHODS[0])
    if method not in KEY_METHODS:
        return bad(f"method must be one of {', '.join(KEY_METHODS)}")
    if "method" in request.query_params and not urls["key"]:
        return bad("method= needs key=")
    tags = []
    if urls["key"]:
        tags.append(f'#EXT-X-KEY:METHOD={method},URI="{urls["key"]}",IV={EVIL_IV}')
    if urls["map"]:
        tags.append(f'#EXT-X-MAP:URI="{urls["map"]}"')
    version = MAP_VERSION if urls["map"] else 3
    return _playlist(media_playlist([Segment(EVIL_SEGMENT_S, urls["segment"])], tags=tuple(tags), version=version))


def _absolute(url: str) -> bool:
    """An absolute URL on one line that fits in a quoted playlist attribute."""
    return bool(_ABSOLUTE_URL.match(url)) and len(url) <= MAX_SEGMENT_URL_CHARS and url.isprintable() and '"' not in url
