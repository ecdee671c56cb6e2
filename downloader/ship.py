"""On a joined host (JOIN): a download's files stream home to the main host's spool before the
download is reported (issue 18), so the job moves on to its upload only once they are all there.

A drain (SIGTERM) that stops a job while it streams hands the job back at once: another
downloader takes it up, and what arrived of the file stays in the main host's spool for the
sweeper (a new lease streams into a new folder).
"""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import trio

from ipc.channels import JobWorker
from ipc.filestream import FileSender
from ipc.messages import DownloadedFile, JobAssign, JobHandBack

log = logging.getLogger("downloader.ship")

HAND_BACK_S = 3.0  # how long a stopped stream waits for the gateway to take its job back


class ShipHome:
    def __init__(self, jobs: JobWorker, worker: str, chunk_bytes: int) -> None:
        self.jobs = jobs
        self.worker = worker
        self.sender = FileSender(jobs, chunk_bytes)

    async def __call__(self, job: JobAssign, files: list[DownloadedFile]) -> tuple[list[DownloadedFile], str]:
        """The files as the main host has them, and their folder there."""
        home: dict[str, str] = {}
        try:
            for path in [p for f in files for p in (f.path, f.thumbnail) if p]:
                if path not in home:
                    home[path] = await self.sender.send_file(job.job_id, job.lease, Path(path), _name(path))
        except trio.Cancelled:
            with trio.CancelScope(shield=True), trio.move_on_after(HAND_BACK_S):
                await self.jobs.report(JobHandBack(job_id=job.job_id, lease=job.lease, worker=self.worker))
                log.info("job %d: stopped while its files streamed home; handed back", job.job_id)
            raise
        shipped = [msgspec.structs.replace(f, path=home[f.path], thumbnail=home.get(f.thumbnail, "")) for f in files]
        folder = str(Path(next(iter(home.values()))).parent) if home else ""
        return shipped, folder


def _name(path: str) -> str:
    """The name in the main host's folder: the spool's own names, which are never a media title."""
    return Path(path).name
