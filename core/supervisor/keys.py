"""`python run.py keys`: this host's CURVE key pair in DATA_DIR/curve/, and what to copy where."""

from __future__ import annotations

from core.config import Settings
from ipc.curve import AUTHORIZED, SERVER_KEY, make_keys


def main(settings: Settings) -> int:
    folder = settings.curve_dir
    try:
        public = make_keys(folder)
    except FileExistsError as exc:
        print(f"error: {exc}")
        return 1
    print(f"made {public} (public) and {public}_secret (secret, mode 0600) for host {settings.this_host}")
    print(f"main host: copy each downloader host's host.key into {folder / AUTHORIZED}/<host>.key")
    print(f"downloader host: copy the main host's host.key to {folder / SERVER_KEY}")
    return 0
