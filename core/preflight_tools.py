"""The preflight's checks of what the downloaders run: ffmpeg, yt-dlp, the JavaScript runtime,
curl_cffi, cookie files and the PO-token provider (see core/preflight.py)."""

from __future__ import annotations

import datetime
import importlib.metadata
import shutil
import subprocess
from collections.abc import Iterable

import httpx

from core import ytdlp
from core.config import Settings
from core.preflight import Finding, days_until, error, ok, warning

TOOL_TIMEOUT_S = 10.0  # a `-version` that takes longer is as good as missing
POT_TIMEOUT_S = 5.0
FFMPEG_TOOLS = ("ffmpeg", "ffprobe")  # what downloader/ffmpeg.py and the probes run, found on PATH
COOKIE_EXPIRY_WARN_DAYS = 7


def findings(settings: Settings) -> Iterable[Finding]:
    yield from (ffmpeg_tool(name) for name in FFMPEG_TOOLS)
    yield ytdlp_age(settings)
    yield js_runtime()
    yield curl_cffi()
    yield from cookies(settings)
    yield pot_provider(settings)


def _first_line(argv: list[str]) -> str | None:
    """The first line a tool prints, or None when it does not run."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if done.returncode == 0 and lines else None


def ffmpeg_tool(name: str) -> Finding:
    path = shutil.which(name)
    if path is None:
        return error(name, "not found on PATH; install it: sudo apt-get install ffmpeg")
    line = _first_line([path, "-version"])
    if line is None:
        return error(name, f"{path} does not run")
    version = line.split(" version ")[-1].split()[0] if " version " in line else line
    return ok(name, f"{version} ({path})")


def ytdlp_age(settings: Settings, today: datetime.date | None = None) -> Finding:
    version = ytdlp.installed_version()
    if version is None:
        return error("yt-dlp", f"not installed; pip install '{ytdlp.REQUIREMENT}'")
    age = ytdlp.age_days(version, today)
    if age is None:
        return warning("yt-dlp", f"{version}: its age is unknown")
    shown = f"{version}, {age} days old"
    if age > settings.ytdlp_max_age_days:
        return warning("yt-dlp", f"{shown}: sites change weekly; update it with /ytdlp update or run.py update-ytdlp")
    return ok("yt-dlp", shown)


def js_runtime() -> Finding:
    try:
        import deno

        path = str(deno.find_deno_bin())
    except (ImportError, FileNotFoundError):
        return warning("javascript runtime", "deno is not installed: YouTube links may fail (pip install deno)")
    line = _first_line([path, "--version"])
    if line is None:
        return warning("javascript runtime", f"{path} does not run: YouTube links may fail")
    return ok("javascript runtime", f"{line.split(' (')[0]}, for YouTube's challenges")


def curl_cffi() -> Finding:
    try:
        version = importlib.metadata.version("curl_cffi")
    except importlib.metadata.PackageNotFoundError:
        missing = f"not installed: sites that need browser impersonation fail; pip install '{ytdlp.REQUIREMENT}'"
        return warning("curl_cffi", missing)
    return ok("curl_cffi", f"{version}, for browser impersonation")


def cookies(settings: Settings) -> Iterable[Finding]:
    from downloader.cookies import cookie_files, earliest_expiry, file_problem

    files = cookie_files(settings.cookies_dir)
    if not files:
        yield ok("cookies", f"none in {settings.cookies_dir} (only sites behind a login need them)")
        return
    for path in files:
        name = f"cookies {path.relative_to(settings.cookies_dir).as_posix()}"
        problem = file_problem(path)
        if problem is not None:
            yield error(name, f"refused: {problem}")
            continue
        soonest = earliest_expiry(path)
        if soonest is None:
            yield ok(name, "mode 0600; session cookies only")
            continue
        days = days_until(soonest)
        when = datetime.datetime.fromtimestamp(soonest).strftime("%Y-%m-%d")
        if days <= 0:
            yield warning(name, f"a cookie expired on {when}: export the file again")
        elif days <= COOKIE_EXPIRY_WARN_DAYS:
            yield warning(name, f"a cookie expires on {when}, in {days:.0f} days")
        else:
            yield ok(name, f"mode 0600; the first cookie expires on {when}")


def pot_provider(settings: Settings) -> Finding:
    url = settings.ytdlp_pot_provider_url
    if not url:
        return ok("po token provider", "none configured (YTDLP_POT_PROVIDER_URL); YouTube may ask for one")
    try:
        response = httpx.get(f"{url}/ping", timeout=POT_TIMEOUT_S)
        response.raise_for_status()
        version = str(response.json().get("version", "?"))
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return error("po token provider", f"{url} does not answer /ping ({type(exc).__name__}: {exc})")
    return ok("po token provider", f"{url} answers, version {version}")
