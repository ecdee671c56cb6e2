"""DASH under `/media/`: a manifest made per request, for testing where a downloader fetches from.

- `evil.mpd?segment=URL`: a valid static MPD (one video representation, one second) whose only
  media segment is the absolute URL given, whatever it points at: a DASH downloader must check
  that URL as it checks a link.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import quoteattr

from starlette.requests import Request
from starlette.responses import Response

from sandbox.media_args import bad

MPD_TYPE = "application/dash+xml"
MAX_SEGMENT_URL_CHARS = 4096
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][^\s\"]*:\S+$")  # ffmpeg's "subfile,,start,0,end,0,,:URL" too

EVIL_MPD = """<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" profiles="urn:mpeg:dash:profile:isoff-main:2011"
     mediaPresentationDuration="PT1S" minBufferTime="PT1S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <Representation id="evil" bandwidth="250000" codecs="avc1.4d401f" width="320" height="240">
        <SegmentList timescale="1" duration="1">
          <SegmentURL media={segment}/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
"""


def evil(request: Request) -> Response:
    """A static MPD whose one segment is the absolute URL in `segment=`."""
    url = request.query_params.get("segment", "")
    if not _ABSOLUTE_URL.match(url) or len(url) > MAX_SEGMENT_URL_CHARS or not url.isprintable():
        return bad("segment must be an absolute URL (scheme:...) on one line")
    return Response(EVIL_MPD.format(segment=quoteattr(url)), media_type=MPD_TYPE, headers={"cache-control": "no-cache"})
