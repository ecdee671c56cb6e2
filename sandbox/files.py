"""Files the bot uploaded, kept under `<data dir>/sandbox/files/` and known by their file_id.

A file_id says what kind of file it is (as Telegram's do): re-sending a video's file_id with
sendAudio is refused. `file_unique_id` is derived from the content, so the same bytes uploaded
twice share it while their file_ids differ.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import secrets
import shutil
from pathlib import Path

from sandbox.model import StoredFile
from sandbox.multipart import UploadedPart

KIND_PREFIX = {"video": "BAAC", "audio": "CQAC", "document": "BQAC", "photo": "AgAC", "thumbnail": "AAMC"}
DEFAULT_MIME = {
    "video": "video/mp4",
    "audio": "audio/mpeg",
    "document": "application/octet-stream",
    "photo": "image/jpeg",
    "thumbnail": "image/jpeg",
}
FILE_ID_RANDOM_BYTES = 24
UNIQUE_ID_CHARS = 16
GENERIC_MIME = ("application/octet-stream", "")


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self._files: dict[str, StoredFile] = {}
        self._samples: dict[tuple[Path, str], StoredFile] = {}

    def prepare(self) -> None:
        """Start empty: files of an earlier run are unknown to this one's memory."""
        shutil.rmtree(self.root, ignore_errors=True)
        self.incoming.mkdir(parents=True, exist_ok=True)

    def clear(self) -> None:
        self._files.clear()
        self._samples.clear()
        self.prepare()

    def get(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def __len__(self) -> int:
        return len(self._files)

    def keep(self, part: UploadedPart, kind: str) -> StoredFile:
        """Take an uploaded part into the store under a new file_id."""
        file_id = KIND_PREFIX.get(kind, "BQAC") + secrets.token_urlsafe(FILE_ID_RANDOM_BYTES)
        path = self.root / file_id
        part.path.rename(path)
        unique = base64.urlsafe_b64encode(bytes.fromhex(part.sha256)).decode()[:UNIQUE_ID_CHARS]
        stored = StoredFile(
            file_id=file_id,
            file_unique_id="AgAD" + unique,
            kind=kind,
            path=path,
            size=part.size,
            sha256=part.sha256,
            mime_type=mime_type(part.filename, part.content_type, kind),
            file_name=part.filename or None,
        )
        self._files[file_id] = stored
        return stored

    def sample(self, source: Path, kind: str) -> StoredFile:
        """A copy of a sample file (what simulated users send), stored once and then reused."""
        known = self._samples.get((source, kind))
        if known is not None:
            return known
        part = UploadedPart(kind, source.name, "", self.incoming / f"sample-{secrets.token_hex(12)}")
        data = source.read_bytes()
        part.path.write_bytes(data)
        part.size, part.sha256 = len(data), hashlib.sha256(data).hexdigest()
        stored = self.keep(part, kind)
        self._samples[(source, kind)] = stored
        return stored


def mime_type(filename: str, declared: str, kind: str) -> str:
    guessed, _ = mimetypes.guess_type(filename) if filename else (None, None)
    if guessed:
        return guessed
    declared = declared.split(";")[0].strip().lower()
    if declared not in GENERIC_MIME:
        return declared
    return DEFAULT_MIME.get(kind, "application/octet-stream")
