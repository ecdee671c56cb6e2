"""Cutting a video that is over the upload cap into playable parts, without re-encoding.

The cut points are planned from the packets themselves (one ffprobe pass: each packet's time,
size and key-frame flag): parts start on video key frames and are filled greedily so that each
part's bytes, plus an allowance for its moov box, stay `SPLIT_MARGIN` under the cap. That is
exact where a plain "size / duration" estimate is not (a quiet intro and a busy finale weigh very
differently). One ffmpeg pass with the segment muxer then writes them: stream copy, timestamps
reset per part, each part its own faststart MP4. Every part is measured and probed afterwards;
one over the cap makes the plan retry with a wider margin (`SPLIT_TRIES` at most).
"""

from __future__ import annotations

import bisect
import logging
import os
import shutil
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from downloader.ffmpeg import (
    STALL_TIMEOUT_S,
    CancelFlag,
    MediaError,
    ProgressFn,
    input_args,
    local_url,
    run_ffmpeg,
    run_ffprobe,
)
from downloader.media import MediaInfo, inspect

__all__ = ["Packets", "plan_cuts", "split_video"]

log = logging.getLogger("downloader.media")

PART_NAME = "part{:02d}.mp4"
SPLIT_MARGIN = 0.03  # parts aim this fraction under the cap (interleaving at the cut, rounding)
SPLIT_TRIES = 3  # plans tried, the margin doubling each time, before giving up
MOOV_BASE_BYTES = 4096  # ftyp, the moov headers (stsd, avcC, handlers), free: per part
MOOV_BYTES_PER_PACKET = 24  # sample tables: stsz, stco, stts, ctts, stss entries
CUT_EPSILON_S = 0.001  # cut a hair before the key frame, so float rounding can't skip it
DURATION_TOLERANCE_S = 0.5
TMP_DIR = ".split"


@dataclass
class Packets:
    """The packets of the streams we keep, as compact columns: a three-hour film has about a
    million of them. Times are ffprobe's, in seconds; `start` is the file's start time."""

    times: array[float] = field(default_factory=lambda: array("d"))
    sizes: array[int] = field(default_factory=lambda: array("q"))
    keys: list[float] = field(default_factory=list)  # times of the video key frames
    start: float = 0.0


def split_video(
    src: Path,
    out_dir: Path,
    max_bytes: int,
    info: MediaInfo,
    cancel: CancelFlag | None = None,
    progress: ProgressFn | None = None,
    *,
    stall_timeout: float = STALL_TIMEOUT_S,
) -> list[Path]:
    """`out_dir/part01.mp4`, `part02.mp4`, ...: each under `max_bytes`, starting on a key frame,
    a standalone faststart H.264 MP4; together as long as `src`. `src` must already be playable
    (see `make_playable_video`); it is left in place. MediaError when it can't be done."""
    if info.kind != "video" or info.vcodec != "h264" or info.video_stream is None:
        raise MediaError(f"split needs an H.264 video, not {info.kind}/{info.vcodec}")
    streams = [info.video_stream] + ([info.audio_stream] if info.audio_stream is not None else [])
    packets = _scan(src, streams, info.video_stream, cancel=cancel, stall_timeout=stall_timeout)
    margin = SPLIT_MARGIN
    parts: list[Path] = []
    try:
        for attempt in range(1, SPLIT_TRIES + 1):
            cuts = plan_cuts(packets, max_bytes, margin)
            parts = _cut(
                src, out_dir, streams, cuts, info, cancel=cancel, progress=progress, stall_timeout=stall_timeout
            )
            biggest = max(p.stat().st_size for p in parts)
            if biggest < max_bytes:
                _verify(parts, info, cancel=cancel, stall_timeout=stall_timeout)
                return parts
            log.info(
                "split of %s try %d: a part of %d bytes is over %d; cutting tighter", src, attempt, biggest, max_bytes
            )
            _remove(parts)
            margin = margin * 2 + (biggest - max_bytes) / max_bytes
    except BaseException:
        _remove(parts)  # cancelled or failed: no part of a half-done split stays behind
        raise
    raise MediaError(f"could not cut {src.name} into parts under {max_bytes} bytes in {SPLIT_TRIES} tries")


def plan_cuts(packets: Packets, max_bytes: int, margin: float = SPLIT_MARGIN) -> list[float]:
    """Times (s from the start) of the key frames where new parts begin, filling each part with
    whole key-frame intervals up to the budget. MediaError when one interval alone is too big."""
    keys = sorted(set(packets.keys))
    if not keys:
        raise MediaError("no key frames in the video")
    weights = [0] * len(keys)
    for when, size in zip(packets.times, packets.sizes, strict=True):
        gop = max(0, bisect.bisect_right(keys, when) - 1)
        weights[gop] += size + MOOV_BYTES_PER_PACKET
    budget = max_bytes * (1 - margin) - MOOV_BASE_BYTES
    cuts: list[float] = []
    filled = 0
    for i, weight in enumerate(weights):
        if weight > budget:
            span = f"{keys[i] - packets.start:.1f}-" + (
                f"{keys[i + 1] - packets.start:.1f}" if i + 1 < len(keys) else ""
            )
            raise MediaError(f"too few key frames: the stretch {span} s alone weighs {weight} bytes, over the cap")
        if filled and filled + weight > budget:
            cuts.append(keys[i] - packets.start)
            filled = 0
        filled += weight
    return cuts


def _scan(src: Path, streams: list[int], video: int, *, cancel: CancelFlag | None, stall_timeout: float) -> Packets:
    """Every packet of the streams we keep, read by ffprobe without decoding. Cut times are
    taken relative to the file's start time: the timeline ffmpeg's segment muxer cuts on."""
    found = Packets()
    last_time = 0.0

    def take(line: str) -> None:
        nonlocal last_time
        section, _, rest = line.partition("|")
        fields = dict(item.partition("=")[::2] for item in rest.split("|") if "=" in item)
        if section == "format":
            found.start = _seconds(fields.get("start_time")) or 0.0
            return
        index = fields.get("stream_index", "")
        if section != "packet" or not index.isdigit() or int(index) not in streams:
            return
        when = _seconds(fields.get("pts_time"))
        last_time = when if when is not None else (_seconds(fields.get("dts_time")) or last_time)
        found.times.append(last_time)
        found.sizes.append(int(fields["size"]) if fields.get("size", "").isdigit() else 0)
        if int(index) == video and fields.get("flags", "").startswith("K"):
            found.keys.append(last_time)

    args = ["-show_entries", "format=start_time:packet=stream_index,pts_time,dts_time,size,flags"]
    run_ffprobe(
        [*args, "-print_format", "compact", *input_args(src)], cancel=cancel, stall_timeout=stall_timeout, on_line=take
    )
    return found


def _seconds(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _cut(
    src: Path,
    out_dir: Path,
    streams: list[int],
    cuts: list[float],
    info: MediaInfo,
    *,
    cancel: CancelFlag | None,
    progress: ProgressFn | None,
    stall_timeout: float,
) -> list[Path]:
    work = out_dir / TMP_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    times = [max(0.0, t - CUT_EPSILON_S) for t in cuts] or [(info.duration or 0) + 1]
    maps = [arg for index in streams for arg in ("-map", f"0:{index}")]
    pattern = local_url(work).replace("%", "%%") + "/part%02d.mp4"
    args = [*input_args(src), *maps, "-c", "copy", "-map_metadata", "0", "-map_chapters", "-1"]
    args += ["-f", "segment", "-segment_times", ",".join(f"{t:.6f}" for t in times), "-segment_start_number", "1"]
    args += ["-reset_timestamps", "1", "-segment_format", "mp4", "-segment_format_options", "movflags=+faststart"]
    run_ffmpeg(
        [*args, pattern],
        outputs=[work],
        duration=info.duration,
        cancel=cancel,
        progress=progress,
        stall_timeout=stall_timeout,
    )
    made = sorted(work.glob("part*.mp4"))
    _remove(list(out_dir.glob("part*.mp4")))
    parts = []
    for number, part in enumerate(made, 1):
        target = out_dir / PART_NAME.format(number)
        os.replace(part, target)
        parts.append(target)
    shutil.rmtree(work, ignore_errors=True)
    if not parts:
        raise MediaError(f"the split of {src.name} wrote no parts")
    return parts


def _verify(parts: list[Path], info: MediaInfo, *, cancel: CancelFlag | None, stall_timeout: float) -> None:
    """Each part must probe as a faststart H.264 MP4; their durations should add up."""
    total = 0.0
    for part in parts:
        got = inspect(part, cancel=cancel, stall_timeout=stall_timeout)
        if got.kind != "video" or got.vcodec != "h264" or not got.is_mp4 or not got.faststart:
            raise MediaError(f"split part {part.name} is not a faststart H.264 MP4: {got}")
        total += got.duration or 0.0
    if info.duration and abs(total - info.duration) > DURATION_TOLERANCE_S:
        log.warning("split parts of %s last %.2f s, the source %.2f s", parts[0].parent, total, info.duration)


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
