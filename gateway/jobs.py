"""Jobs in the gateway: made durable from a link, and moved on wherever no downloader is needed.

A job is a row before the user hears anything. `advance` takes a queued job as far as what is
already known allows: a cached probe becomes the choice at once (no network), a known choice of
cached media becomes the file at once (no probe, no download, no upload), a playlist becomes one
job per entry. Whatever is left waits for a downloader (`gateway.dispatch`).
"""

from __future__ import annotations

import json
import logging
import time

import msgspec
import sqlite_utils

from core import albums, formats, inline, jobstates, outbox
from core import jobs as job_rows
from core.callback_data import CallbackCodec
from core.config import MIB, Settings
from core.failures import ErrorClass, Failure
from core.jobs import Job
from core.jobstates import ON_A_DOWNLOADER, JobState, sql_in, sql_is
from core.logs import uid
from core.media_keys import request_key
from core.payloads import AlbumItem, SendMedia, Text
from core.start_time import start_of
from core.status import cancel_keyboard
from gateway import albums as album_sends
from gateway.offer import cached_keys, choices_message, estimate, queued_text
from ipc.messages import Probe

log = logging.getLogger("gateway.jobs")

# The media's title, except that a playlist's entry keeps the title the playlist gave it.
OWN_TITLE = "title = CASE WHEN parent_id IS NULL THEN ? ELSE coalesce(title, ?) END"
SUBTITLES = "subtitles"  # jobs.meta: the video's subtitles come along (in the user's language)
PROBE_FRESH_S = 6 * 3600  # a cached probe older than this is probed again (titles, sizes change)
_probe_decoder = msgspec.json.Decoder(Probe)


def create(
    db: sqlite_utils.Database,
    settings: Settings,
    codec: CallbackCodec,
    *,
    user_id: int,
    chat_id: int,
    message_id: int | None,
    url: str,
    default_format: str,
    meta: dict[str, object] | None = None,
) -> list[int]:
    """One job for one link (inside the update's transaction); returns outbox rows to announce.
    `meta`: what the job starts with in `jobs.meta` (an inline job's message, `core.inline`)."""
    ref = request_key(url)
    now = time.time()
    requested = None if default_format == formats.ASK else default_format
    always = db.execute("SELECT subtitles FROM users WHERE id = ?", [user_id]).fetchone()
    if always and always[0]:
        meta = {**(meta or {}), SUBTITLES: True}
    job_id = int(
        db.execute(
            "INSERT INTO jobs (user_id, chat_id, request_message_id, url, request_key, media_key, platform,"
            " format_key, state, created_at, updated_at, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                user_id,
                chat_id,
                message_id,
                url,
                ref.key,
                ref.key if ref.media_id else None,
                ref.platform,
                requested,
                JobState.QUEUED.value,
                now,
                now,
                json.dumps(meta) if meta else None,
            ],
        ).lastrowid
        or 0
    )
    log.info("job %d: user %s, %s (%s)", job_id, uid(user_id), ref.key, requested or "ask")
    job = job_rows.load(db, job_id, settings)
    assert job is not None
    return advance(db, settings, codec, job, new=True)


def wants_subtitles(job: Job) -> bool:
    """The user asked for the video's subtitles (the button, or "always" in /settings)."""
    return bool(job.meta.get(SUBTITLES))


def known_probe(db: sqlite_utils.Database, job: Job) -> tuple[str, Probe] | None:
    """(media key, probe) when this job's media was probed lately: by its key or its alias."""
    key = job.media_key
    if key is None:  # a generic link: its key is where it led, or (no redirect) the link itself
        row = db.execute("SELECT media_key FROM media_aliases WHERE request_key = ?", [job.request_key]).fetchone()
        key = row[0] if row else job.request_key
    row = db.execute("SELECT info, created_at FROM media_probes WHERE media_key = ?", [key]).fetchone()
    if row is None or row[1] < time.time() - PROBE_FRESH_S:
        return None
    return key, _probe_decoder.decode(row[0])


def store_probe(db: sqlite_utils.Database, job: Job, media_key: str, probe: Probe) -> None:
    now = time.time()
    db.execute(
        "INSERT INTO media_probes (media_key, platform, info, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (media_key) DO UPDATE SET info = excluded.info, created_at = excluded.created_at",
        [media_key, probe.platform or job.platform or "", msgspec.json.encode(probe).decode(), now],
    )
    if media_key != job.request_key:
        db.execute(
            "INSERT INTO media_aliases (request_key, media_key, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (request_key) DO UPDATE SET media_key = excluded.media_key, created_at = excluded.created_at",
            [job.request_key, media_key, now],
        )


def advance(
    db: sqlite_utils.Database, settings: Settings, codec: CallbackCodec, job: Job, *, new: bool = False
) -> list[int]:
    """Take a queued job as far as the cache allows (inside a transaction); outbox rows to announce.

    `new`: the job was just made, and has no status message yet.
    """
    found = known_probe(db, job)
    if found is not None:
        media_key, probe = found
        if job.media_key != media_key:
            db.execute(
                f"UPDATE jobs SET media_key = ?, {OWN_TITLE} WHERE id = ?",
                [media_key, probe.title, probe.title, job.id],
            )
        if probe.kind == "playlist":
            return _playlist(db, settings, codec, job, probe, new)
        if probe.kind == albums.GALLERY:
            return _gallery(db, settings, codec, job, media_key, probe, new)
        if job.format_key is None and probe.kind != "file":
            return _ask(db, settings, codec, job, media_key, probe, new)
        key = formats.resolve(job.format_key or "file", probe, job.audio_format)
        if key is None:
            return _fail_now(db, settings, codec, job, new, _too_large(settings))
        if key != job.format_key:
            db.execute("UPDATE jobs SET format_key = ? WHERE id = ?", [key, job.id])
        # Subtitles are not cached: a video that comes with them is downloaded again.
        served = [] if probe.subtitles and wants_subtitles(job) else _from_cache(db, job, media_key, key)
        if served:
            return served
    if new:
        return _queued_status(db, settings, codec, job)
    return []


def _gallery(
    db: sqlite_utils.Database,
    settings: Settings,
    codec: CallbackCodec,
    job: Job,
    media_key: str,
    probe: Probe,
    new: bool,
) -> list[int]:
    """An image post: photos, videos or everything (asked, unless the user saved an answer)."""
    # An inline job has nobody to ask: the whole post (its message becomes the first item).
    key = albums.resolve(job.format_key, albums.ALL if inline.message_of(job) else job.album_format, probe)
    if key is None:
        return _ask(db, settings, codec, job, media_key, probe, new)
    if key != job.format_key:
        db.execute("UPDATE jobs SET format_key = ? WHERE id = ?", [key, job.id])
    served = _from_cache(db, job, media_key, key)
    if served:
        return served
    return _queued_status(db, settings, codec, job) if new else []


def _too_large(settings: Settings) -> Failure:
    return Failure(ErrorClass.TOO_LARGE, "no format fits the cap", values={"limit": settings.max_file_bytes // MIB})


def _fail_now(
    db: sqlite_utils.Database, settings: Settings, codec: CallbackCodec, job: Job, new: bool, failure: Failure
) -> list[int]:
    """Fail without a downloader; a new job first gets the status message the failure is told in
    (still pending, so the failure replaces its text and costs no extra send)."""
    notices = _queued_status(db, settings, codec, job) if new else []
    return notices + job_rows.fail(db, settings, job.id, failure)[1]


def _queued_status(db: sqlite_utils.Database, settings: Settings, codec: CallbackCodec, job: Job) -> list[int]:
    """The new job's status, quiet (`core.outbox`): it shows only if the file is not ready within
    STATUS_DELAY_S; until then the changes of the job rewrite it unsent."""
    position = queue_position(db, job)
    slots = settings.workers * max(1, settings.download_slots_per_worker - 1)
    body = queued_text(job.lang, position, estimate(db, position, slots))
    if inline.message_of(job):  # its status is the inline message the user sent
        return [inline.show(db, job, body)]
    keyboard = cancel_keyboard(job.lang, codec, job.id)
    return [_new_status(db, job, body, keyboard, quiet_for=settings.status_delay_s)]


def _new_status(db: sqlite_utils.Database, job: Job, body: str, keyboard: outbox.Keyboard, quiet_for: float = 0) -> int:
    item = outbox.enqueue(
        db,
        job.chat_id,
        Text(text=body, keyboard=keyboard, reply_to=job.request_message_id),
        priority=outbox.PRIORITY_STATUS if quiet_for else outbox.PRIORITY_ANSWER,
        role=outbox.ROLE_QUIET_STATUS if quiet_for else outbox.ROLE_STATUS,
        job_id=job.id,
        not_before=time.time() + quiet_for if quiet_for else 0.0,
    )
    db.execute("UPDATE jobs SET status_outbox_id = ? WHERE id = ?", [item, job.id])
    return item


def set_status(
    db: sqlite_utils.Database, job: Job, body: str, keyboard: outbox.Keyboard | None, new: bool
) -> int | None:
    """Show `body` in the job's status message, making the message if it has none yet."""
    if new or job.status_outbox_id is None:
        return _new_status(db, job, body, keyboard or [])
    return outbox.change_message(
        db, job.status_outbox_id, job.chat_id, body, keyboard, priority=outbox.PRIORITY_ANSWER, job_id=job.id
    )


def _ask(
    db: sqlite_utils.Database,
    settings: Settings,
    codec: CallbackCodec,
    job: Job,
    media_key: str,
    probe: Probe,
    new: bool,
) -> list[int]:
    if not probe.choices:
        return _fail_now(db, settings, codec, job, new, _too_large(settings))
    jobstates.ask(db, job.id)
    cached = cached_keys(db, media_key)
    body, keyboard = choices_message(job.lang, codec, job.id, probe, job.audio_format, cached, wants_subtitles(job))
    item = set_status(db, job, body, keyboard, new)
    return [item] if item else []


def _playlist(
    db: sqlite_utils.Database, settings: Settings, codec: CallbackCodec, job: Job, probe: Probe, new: bool
) -> list[int]:
    if not probe.entries:
        return _fail_now(db, settings, codec, job, new, Failure(ErrorClass.NOT_FOUND, "an empty playlist"))
    if job.format_key is None:
        jobstates.ask(db, job.id)
        body, keyboard = choices_message(job.lang, codec, job.id, probe, job.audio_format, set())
        item = set_status(db, job, body, keyboard, new)
        return [item] if item else []
    return expand_playlist(db, settings, codec, job, probe, new)


def expand_playlist(
    db: sqlite_utils.Database, settings: Settings, codec: CallbackCodec, job: Job, probe: Probe, new: bool
) -> list[int]:
    """One job per entry, all with the playlist's choice; the playlist waits for them."""
    now = time.time()
    meta = {**job.meta, "playlist": len(probe.entries)}
    if not jobstates.expand(db, job.id, probe.title, json.dumps(meta)):
        return []
    children = []
    for index, entry in enumerate(probe.entries, 1):
        ref = request_key(entry.url)
        child = db.execute(
            "INSERT INTO jobs (user_id, chat_id, request_message_id, parent_id, item_index, url, request_key,"
            " media_key, platform, format_key, title, state, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                job.user_id,
                job.chat_id,
                job.request_message_id,
                job.id,
                index,
                entry.url,
                ref.key,
                ref.key if ref.media_id else None,
                ref.platform,
                job.format_key,
                entry.title,
                JobState.QUEUED.value,
                now,
                now,
            ],
        ).lastrowid
        children.append(int(child or 0))
    log.info("job %d: playlist of %d entries -> jobs %s", job.id, len(children), children)
    notices = []
    if new:  # the line is written just below, into the still pending status
        notices.append(_new_status(db, job, "📃", cancel_keyboard(job.lang, codec, job.id)))
    elif job.status_outbox_id is not None:  # its entries' files come under it: it must show first
        outbox.show_now(db, job.status_outbox_id)
        notices.append(job.status_outbox_id)
    notices += job_rows.finish_playlist_if_complete(db, settings, job.id)
    for child_id in children:
        child_job = job_rows.load(db, child_id, settings)
        if child_job is not None:
            notices += advance(db, settings, codec, child_job)
    return notices


def _from_cache(db: sqlite_utils.Database, job: Job, media_key: str, format_key: str) -> list[int]:
    """Send a cached file again by its file_id; [] when it is not (wholly) cached."""
    rows = db.execute(
        "SELECT part, parts, file_id, kind, title, source_url FROM media_cache"
        " WHERE media_key = ? AND format_key = ? ORDER BY part",
        [media_key, format_key],
    ).fetchall()
    if not rows or len(rows) != rows[0][1]:
        return []
    now = time.time()
    if not jobstates.from_cache(db, job.id, rows[0][3], rows[0][4]):
        return []
    db.execute(
        "UPDATE media_cache SET hits = hits + 1, last_used_at = ? WHERE media_key = ? AND format_key = ?",
        [now, media_key, format_key],
    )
    if job.status_outbox_id is not None:
        outbox.drop_progress(db, job.status_outbox_id)
    title, source = rows[0][4] or "", job.url or rows[0][5] or ""
    if albums.is_key(format_key):
        items = [AlbumItem(kind=r[3], part=r[0], file_id=r[2]) for r in rows]
        payloads = album_sends.sends(
            items, title=title, reply_to=job.request_message_id, media_key=media_key, format_key=format_key,
            source_url=source,
        )  # fmt: skip
    else:
        start = start_of(job.url) if len(rows) == 1 and rows[0][3] == "video" else 0
        payloads = [
            SendMedia(
                kind=kind,
                file_id=file_id,
                title=title or "",
                reply_to=job.request_message_id,
                media_key=media_key,
                format_key=format_key,
                part=part,
                parts=parts,
                source_url=source,
                start=start,
            )
            for part, parts, file_id, kind, title, _ in rows
        ]
    notices = [
        outbox.enqueue(db, job.chat_id, payload, priority=outbox.PRIORITY_FILE, role=outbox.ROLE_FILE, job_id=job.id)
        for payload in payloads
    ]
    log.info("job %d: %s %s from the cache (%d part(s))", job.id, media_key, format_key, len(rows))
    return notices


def queue_position(db: sqlite_utils.Database, job: Job) -> int:
    """Where the job stands with fair dispatch: every user's k-th job before anyone's (k+1)-th."""
    rows = db.execute(
        f"SELECT user_id, count(*) FROM jobs WHERE state = {sql_is(JobState.QUEUED)} AND id < ? GROUP BY user_id",
        [job.id],
    ).fetchall()
    mine = next((n for user, n in rows if user == job.user_id), 0)
    running = db.execute(
        f"SELECT count(*) FROM jobs WHERE user_id = ? AND state IN {sql_in(*ON_A_DOWNLOADER)}", [job.user_id]
    ).fetchone()[0]
    rank = mine + running
    ahead = sum(min(n, rank + 1) for user, n in rows if user != job.user_id)
    return ahead + mine + 1
