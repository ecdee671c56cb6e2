"""A job started from inline mode: what the gateway keeps of it, and its words to the user.

A chosen inline result ("⬇️ Send this video") becomes a job like any other, except that its
chat is the storage chat (STORAGE_CHAT_ID, where its file is uploaded) and its status is the
inline message the user sent: `jobs.meta["inline"]` holds that message's inline_message_id.
Its queue position, progress and failure edit the inline message's text (`InlineEdit`); once its
file is in the storage chat, the inline message becomes the file (`InlineMedia`, by file_id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import outbox
from core.payloads import InlineEdit, InlineMedia

if TYPE_CHECKING:
    import sqlite_utils

    from core.jobs import Job

META = "inline"  # jobs.meta key: the inline_message_id of the message the job shows in


def message_of(job: Job) -> str:
    """The inline_message_id the job shows in ("" for a job of a private chat)."""
    return str(job.meta.get(META) or "")


def show(db: sqlite_utils.Database, job: Job, body: str, *, priority: int = outbox.PRIORITY_ANSWER) -> int:
    """Put `body` in the job's inline message (an outbox row to announce)."""
    role = outbox.ROLE_PROGRESS if priority == outbox.PRIORITY_PROGRESS else ""
    payload = InlineEdit(inline_message_id=message_of(job), text=body)
    return outbox.enqueue(db, job.user_id, payload, priority=priority, role=role, job_id=job.id)


def deliver(db: sqlite_utils.Database, job: Job) -> list[int]:
    """The job's file is in the storage chat (done): its inline message becomes that file."""
    row = db.execute(
        "SELECT kind, file_id, title, source_url FROM media_cache WHERE media_key = ? AND format_key = ?"
        " ORDER BY part LIMIT 1",
        [job.media_key, job.format_key],
    ).fetchone()
    if row is None:
        return []
    kind, file_id, title, source = row
    # Progress still waiting would overwrite the file with text: the file is the last word.
    db.execute(
        "UPDATE outbox SET state = 'dropped' WHERE job_id = ? AND kind = 'inline_edit' AND state = 'pending'", [job.id]
    )
    payload = InlineMedia(
        inline_message_id=message_of(job),
        kind=kind,
        file_id=file_id,
        title=title or "",
        source_url=job.url or source or "",
        lang=job.lang,
    )
    return [outbox.enqueue(db, job.user_id, payload, priority=outbox.PRIORITY_FILE, job_id=job.id)]
