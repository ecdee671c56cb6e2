"""Keeping yt-dlp current: upgrade it (and its JavaScript challenge scripts) into the bot's own
Python environment, check the new version on a sample link, and roll back when the check fails.

Sites change weekly and yt-dlp follows them, so an operator upgrades often: `/ytdlp update` from
Telegram or `python run.py update-ytdlp` from a shell. Both end here (run by the supervisor, which
then restarts the downloaders one at a time, or by the shell command when no bot runs):

1. the installed yt-dlp and yt-dlp-ejs are packed into wheels under DATA_DIR/run/ytdlp-backup, so
   that a rollback needs no index and no network;
2. `pip install --upgrade 'yt-dlp[default,curl-cffi]' yt-dlp-ejs` with YTDLP_UPGRADE_SOURCE's
   options (a private index, `--find-links DIR --no-index`, ...);
3. a fresh interpreter (the new code) probes YTDLP_CHECK_URL with `yt-dlp --simulate`;
4. a failed probe reinstalls the packed wheels.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import logging
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import trio

from core import ytdlp
from core.config import Settings

log = logging.getLogger("ytdlp.update")

PIP_TIMEOUT_S = 600.0
CHECK_TIMEOUT_S = 180.0
CHECK_SOCKET_TIMEOUT_S = 30
SANDBOX_SAMPLE = "/media/sample.mp4"  # the check's link in sandbox mode, on the sandbox's origin
TAIL_CHARS = 300  # of a failed command's output, for the admins and the log
# Files an installer writes beside a distribution; a wheel must not carry them.
_INSTALLER_FILES = ("INSTALLER", "REQUESTED", "RECORD", "direct_url.json")


@dataclass(frozen=True)
class Outcome:
    ok: bool  # the environment has a yt-dlp that works: the new one checked, or the old one back
    changed: bool  # a new version is installed and passed the check
    old: str
    new: str  # the version now installed
    detail: str


def backup_dir(settings: Settings) -> Path:
    return settings.run_dir / "ytdlp-backup"


async def upgrade(settings: Settings, python: str = sys.executable) -> Outcome:
    """Upgrade, check, roll back if needed; never raises for a failed step (the outcome says)."""
    old = ytdlp.installed_version() or "none"
    old_scripts = ytdlp.installed_version(ytdlp.JS_SCRIPTS)
    backup = backup_dir(settings)
    shutil.rmtree(backup, ignore_errors=True)
    wheels = [freeze_wheel(ytdlp.DISTRIBUTION, backup)] if old != "none" else []
    if old_scripts:
        wheels.append(freeze_wheel(ytdlp.JS_SCRIPTS, backup))
    log.info("upgrading yt-dlp %s (backup: %s)", old, ", ".join(w.name for w in wheels))
    pip = [python, "-m", "pip", "install", "--upgrade", "--disable-pip-version-check", "--quiet"]
    failed = await _run([*pip, *settings.ytdlp_upgrade_source, ytdlp.REQUIREMENT, ytdlp.JS_SCRIPTS], PIP_TIMEOUT_S)
    new = ytdlp.installed_version() or "none"
    if failed is not None:
        log.warning("pip could not upgrade yt-dlp: %s", failed)
        return Outcome(new == old, False, old, new, f"pip failed: {failed}")
    if new == old:
        log.info("yt-dlp %s is the newest the source has", old)
        return Outcome(True, False, old, new, "already the newest")
    problem = await check(settings, python)
    if problem is None:
        log.info("yt-dlp %s -> %s: the check on %s passed", old, new, settings.ytdlp_check_url)
        return Outcome(True, True, old, new, f"checked on {settings.ytdlp_check_url}")
    log.warning("yt-dlp %s failed the check (%s): rolling back to %s", new, problem, old)
    if not wheels:
        return Outcome(False, False, old, new, f"the check failed ({problem}) and there was nothing to roll back to")
    pins = [f"{ytdlp.DISTRIBUTION}=={old}", *([f"{ytdlp.JS_SCRIPTS}=={old_scripts}"] if old_scripts else [])]
    restore = [python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--no-index"]
    undone = await _run([*restore, "--find-links", str(backup), "--no-deps", *pins], PIP_TIMEOUT_S)
    back = ytdlp.installed_version() or "none"
    if undone is not None or back != old:
        return Outcome(False, False, old, back, f"the check failed ({problem}) and the rollback too ({undone})")
    return Outcome(False, False, old, back, f"{new} failed the check ({problem}); rolled back to {old}")


async def check(settings: Settings, python: str = sys.executable) -> str | None:
    """Why the installed yt-dlp cannot read YTDLP_CHECK_URL (in a fresh interpreter), or None."""
    argv = [python, "-m", "yt_dlp", "--simulate", "--quiet", "--no-warnings", "--no-playlist"]
    argv += ["--socket-timeout", str(CHECK_SOCKET_TIMEOUT_S), "--no-cache-dir"]
    runtime = _deno()
    if runtime:
        argv += ["--js-runtimes", f"deno:{runtime}"]
    return await _run([*argv, settings.ytdlp_check_url], CHECK_TIMEOUT_S)


def _deno() -> str | None:
    try:
        import deno

        return str(deno.find_deno_bin())
    except (ImportError, FileNotFoundError):
        return None


async def _run(argv: list[str], timeout: float) -> str | None:
    """None when `argv` succeeds within `timeout`; else the end of what it said."""
    with trio.move_on_after(timeout):
        done = await trio.run_process(argv, capture_stdout=True, capture_stderr=True, check=False)
        if done.returncode == 0:
            return None
        said = (done.stderr or done.stdout).decode(errors="replace").strip()
        return f"exit {done.returncode}: {said[-TAIL_CHARS:]}"
    return f"no answer within {timeout:.0f} s"


def freeze_wheel(name: str, dest: Path) -> Path:
    """Pack the installed distribution `name` into a wheel in `dest` (its files as installed,
    without compiled caches and scripts): what pip needs to put this very version back offline."""
    dist = importlib.metadata.distribution(name)
    version = dist.version
    stem = f"{dist.metadata['Name'].replace('-', '_')}-{version}"
    info = f"{stem}.dist-info"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{stem}-py3-none-any.whl"
    record: list[str] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in dist.files or []:
            path = file.as_posix()
            if path.startswith("..") or "__pycache__" in file.parts or path.endswith(".pyc"):
                continue
            if file.parts[0].endswith(".dist-info"):
                if file.name in _INSTALLER_FILES:
                    continue
                path = "/".join((info, *file.parts[1:]))
            data = Path(str(file.locate())).read_bytes()
            archive.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel
