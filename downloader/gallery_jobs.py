"""A downloader's jobs on image posts: when gallery-dl takes over from yt-dlp, and what it reports.

yt-dlp stays the first engine. A probe falls back to gallery-dl (`downloader.gallery`) when
yt-dlp finds no video on the link (its failure is UNSUPPORTED or EXTRACTOR), or when the link is
on a site gallery-dl has an extractor of its own for and yt-dlp met a login wall, a private or
missing post; never when the egress guard refused one of yt-dlp's fetches
(the link aimed somewhere it may not: that is the answer). The probe of a post lists its items
(nothing downloaded) and offers `core.albums`' choice; a download whose key is one of those keys
goes straight to gallery-dl.

Both run in the job's thread, as the yt-dlp engine's do, and return the engine's own result types,
so that the worker reports them as it reports every download (`JobProbed`, `JobDownloaded`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from core import albums
from core.config import Settings
from core.media_keys import request_key
from downloader.egress import EgressProxy, EgressRefused
from downloader.engine import Control, DownloadResult, MediaFile, ProbeResult
from downloader.errors import ClassifiedError, ErrorClass, classify
from downloader.gallery import GalleryEngine, site_of
from ipc.messages import JobAssign

log = logging.getLogger("downloader.gallery")

NO_VIDEO = frozenset({ErrorClass.UNSUPPORTED, ErrorClass.EXTRACTOR})
# On a site gallery-dl knows, these of yt-dlp's failures too (it may read what yt-dlp could not).
ON_A_GALLERY_SITE = NO_VIDEO | {ErrorClass.LOGIN_REQUIRED, ErrorClass.PRIVATE, ErrorClass.NOT_FOUND}


class GalleryJobs:
    def __init__(self, settings: Settings, egress: EgressProxy | None) -> None:
        self.engine = GalleryEngine(settings, egress)

    @staticmethod
    def takes_over(exc: Exception, url: str, refused: bool) -> bool:
        """Whether a probe that yt-dlp failed with `exc` goes to gallery-dl (see the docstring)."""
        if refused or isinstance(exc, EgressRefused):
            return False
        cls = classify(exc).cls
        return cls in NO_VIDEO or (cls in ON_A_GALLERY_SITE and site_of(url) is not None)

    def probe(self, job: JobAssign, guard: str, control: Control, cookiefile: Path | None) -> ProbeResult:
        survey = self.engine.survey(job.url, guard=guard, control=control, cookiefile=cookiefile)
        log.info("job %d: an image post of %d item(s) on %s", job.job_id, len(survey.kinds), survey.site)
        probe = albums.gallery_probe(survey.caption, survey.site, survey.kinds, job.url)
        return ProbeResult(request_key(job.url).key, probe)

    def download(
        self, job: JobAssign, folder: Path, guard: str, control: Control, cookiefile: Path | None
    ) -> DownloadResult:
        key = job.format_key
        post = self.engine.fetch(job.url, folder, guard=guard, control=control, cookiefile=cookiefile, only=key)
        if not post.items:
            raise ClassifiedError(f"the post has nothing for {key}", ErrorClass.UNSUPPORTED)
        if post.truncated:
            log.info("job %d: the post has more items than GALLERY_MAX_ITEMS; the first ones go", job.job_id)
        files = [
            MediaFile(
                path=item.path,
                kind=item.kind,
                size=item.size,
                duration=item.duration,
                width=item.width,
                height=item.height,
                thumbnail=item.thumbnail,
                part=number,
                parts=len(post.items),
            )
            for number, item in enumerate(post.items, 1)
        ]
        probe = albums.gallery_probe(post.caption, post.site, [item.kind for item in post.items], job.url)
        return DownloadResult(request_key(job.url).key, key, probe, post.caption, "", files)
