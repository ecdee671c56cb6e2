"""Every setting of the bot, in one place.

Values come from, lowest precedence first: the defaults below, a `.env` file in the working
folder, the process environment, and `run.py` flags (passed as overrides). `load_settings`
validates everything at start; a bad value raises `SettingsError` naming the variable.
Secrets are wrapped in `Secret`, whose repr and str never show the value.

To add a setting: add one field with `setting(ENV_NAME, default, parser, help)` in the section
of the part that uses it. The field name is the environment name in lower case.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import shlex
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.texts import LANGUAGES

__all__ = ["MIB", "Secret", "Settings", "SettingsError", "check_relations", "load_settings", "read_env_file"]

MIB = 1024 * 1024
MTPROTO_BOT_UPLOAD_MIB = 2000  # what Telegram accepts from a bot in one file
MTPROTO_PREMIUM_UPLOAD_MIB = 4000  # ... and from a Premium user


class SettingsError(ValueError):
    """A setting is missing or invalid; the message starts with the variable's name."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class Secret:
    """A value that must never reach a log: repr and str hide it."""

    value: str = field(repr=False)

    def reveal(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self.value)


# ---- parsers: str -> value, raising ValueError with a human reason ---------------------------


def _int(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if lo is not None and value < lo:
            raise ValueError(f"must be at least {lo}")
        if hi is not None and value > hi:
            raise ValueError(f"must be at most {hi}")
        return value

    return parse


def _float(lo: float | None = None, hi: float | None = None) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("must be a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        if lo is not None and value < lo:
            raise ValueError(f"must be at least {lo:g}")
        if hi is not None and value > hi:
            raise ValueError(f"must be at most {hi:g}")
        return value

    return parse


def _bool(raw: str) -> bool:
    text = raw.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _str(raw: str) -> str:
    return raw.strip()


def _secret(raw: str) -> Secret:
    return Secret(raw.strip())


def _bot_token(raw: str) -> Secret:
    # Telegram tokens look like "123456789:AA...": a numeric bot id, a colon, a key.
    value = raw.strip()
    bot_id, sep, key = value.partition(":")
    if not sep or not bot_id.isdigit() or len(key) < 5:
        raise ValueError("must look like <bot id>:<key>, as @BotFather gives it")
    return Secret(value)


def _id_list(raw: str) -> tuple[int, ...]:
    ids = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            ids.append(int(part))
        except ValueError:
            raise ValueError(f"must be comma-separated user ids; {part!r} is not a number") from None
    return tuple(ids)


def _workers(raw: str) -> int:
    value = raw.strip().lower()
    if value == "auto":
        return os.cpu_count() or 1
    return _int(0, 256)(value)  # 0: a main host whose downloads all run on joined hosts (JOB_LISTEN)


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("must be a folder path")
    return Path(raw.strip()).expanduser()


def _url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def _proxy(raw: str) -> str:
    value = raw.strip()
    if value and not value.startswith(("socks5://", "http://", "https://")):
        raise ValueError("must start with socks5://, http:// or https://")
    return value


def _proxy_list(raw: str) -> tuple[str, ...]:
    proxies = tuple(p.strip() for p in raw.split(",") if p.strip())
    for proxy in proxies:
        if not proxy.startswith(("socks5://", "socks5h://", "http://", "https://")):
            raise ValueError(f"{proxy!r}: each proxy must start with socks5://, http:// or https://")
    return proxies


MAX_PORT = 65535
DNS_PORT = 53


def _port_list(raw: str) -> tuple[int, ...]:
    ports = []
    for item in (p.strip() for p in raw.split(",") if p.strip()):
        if not item.isdigit() or not 0 < int(item) <= MAX_PORT:
            raise ValueError(f"{item[:16]!r}: each port must be a whole number from 1 to {MAX_PORT}")
        ports.append(int(item))
    return tuple(dict.fromkeys(ports))


def _dns_server(raw: str) -> tuple[str, int] | None:
    """host[:port] of a DNS server, the host an IP address ([v6]:port for IPv6 with a port)."""
    text = raw.strip()
    if not text:
        return None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError("write an IPv6 server with a port as [address]:port")
        port = rest[1:]
    elif text.count(":") > 1:
        host, port = text, ""  # a bare IPv6 address
    else:
        host, _, port = text.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host[:64]!r} must be an IP address (a name would itself need resolving)") from None
    if port and (not port.isdigit() or not 0 < int(port) <= MAX_PORT):
        raise ValueError(f"{port[:16]!r} is not a port from 1 to {MAX_PORT}")
    return host, int(port) if port else DNS_PORT


def _host_name(raw: str) -> str:
    value = raw.strip()
    if value and not all(c.isalnum() or c in "-_." for c in value):
        raise ValueError("may hold only letters, digits, '-', '_' and '.'")
    return value[:64]


def _tcp_endpoint(raw: str) -> str:
    """tcp://ADDRESS:PORT (an IP address, or * to listen on every interface; port 0: any free one,
    as the gateway's log then says), or empty."""
    value = raw.strip()
    if not value:
        return ""
    if not value.startswith("tcp://"):
        raise ValueError("must look like tcp://ADDRESS:PORT")
    host, sep, port = value[len("tcp://") :].rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= MAX_PORT:
        raise ValueError("must end with :PORT, a port from 0 to 65535")
    if host != "*":
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(f"{host[:64]!r} must be an IP address (or * for every interface)") from None
    return value


def _lang(raw: str) -> str:
    return _choice(*LANGUAGES)(raw)


def _url_or_empty(raw: str) -> str:
    return _url(raw) if raw.strip() else ""


def _pip_args(raw: str) -> tuple[str, ...]:
    try:
        args = tuple(shlex.split(raw))
    except ValueError as exc:
        raise ValueError(f"must be pip options as a shell would split them ({exc})") from None
    if args and not args[0].startswith("-"):
        raise ValueError("must be pip options, e.g. --find-links /srv/wheels --no-index")
    return args


def setting(
    env: str, default: Any, parse: Callable[[str], Any], help: str, secret: bool = False, shown: str | None = None
) -> Any:
    """Declare one setting: its environment name, default, parser and one line of help. `shown` is
    the default as .env.example writes it, where the value depends on the machine ("auto")."""
    meta = {"env": env, "parse": parse, "help": help, "secret": secret, "shown": shown}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class Settings:
    # ---- Telegram credentials and backend -------------------------------------------------
    bot_token: Secret | None = setting("BOT_TOKEN", None, _bot_token, "token from @BotFather", secret=True)
    api_id: int | None = setting("API_ID", None, _int(1), "MTProto api_id from my.telegram.org")
    api_hash: Secret | None = setting("API_HASH", None, _secret, "MTProto api_hash", secret=True)
    admin_ids: tuple[int, ...] = setting("ADMIN_IDS", (), _id_list, "comma-separated admin user ids")
    telegram_backend: Literal["mtproto", "botapi"] = setting(
        "TELEGRAM_BACKEND", "mtproto", _choice("mtproto", "botapi"), "mtproto (kurigram) or botapi (HTTP)"
    )
    botapi_url: str = setting("BOTAPI_URL", "https://api.telegram.org", _url, "Bot API server base URL")
    botapi_upload_limit_mb: int = setting(
        "BOTAPI_UPLOAD_LIMIT_MB", 50, _int(1, 2000), "upload cap when talking to the Bot API (cloud: 50)"
    )
    upload_limit_mb: int = setting("UPLOAD_LIMIT_MB", 2000, _int(1, 4000), "upload cap over MTProto, MiB")
    mtproto_max_transmissions: int = setting(
        "MTPROTO_MAX_TRANSMISSIONS", 4, _int(1, 32), "files uploaded at once by the mtproto client"
    )
    mtproto_sleep_threshold: int = setting(
        "MTPROTO_SLEEP_THRESHOLD", 0, _int(0, 3600), "FloodWaits up to this many seconds are slept in the library"
    )
    proxy_url: str = setting("PROXY_URL", "", _proxy, "socks5:// or http:// proxy for reaching Telegram")
    premium_session: Secret | None = setting(
        "PREMIUM_SESSION", None, _secret, "session string of a Premium user for 2000-4000 MiB files", secret=True
    )
    default_language: str = setting("DEFAULT_LANGUAGE", "fa", _lang, "language for users who have none")

    # ---- folders and processes --------------------------------------------------------------
    data_dir: Path = setting("DATA_DIR", Path("data"), _path, "folder for the database, spool and run files")
    workers: int = setting(
        "WORKERS", os.cpu_count() or 1, _workers, "downloader processes: auto or a number", shown="auto"
    )
    sandbox: bool = setting("SANDBOX", False, _bool, "run against the built-in sandbox")
    sandbox_port: int = setting("SANDBOX_PORT", 8081, _int(0, 65535), "port of the sandbox (0: any free port)")
    monitor_port: int = setting("MONITOR_PORT", 8090, _int(0, 65535), "port of the monitor's /healthz (0: any free)")
    shutdown_grace: float = setting("SHUTDOWN_GRACE", 20.0, _float(0, 600), "seconds children get to drain")
    restart_min_delay: float = setting("RESTART_MIN_DELAY", 0.5, _float(0, 60), "first restart delay, s")
    restart_max_delay: float = setting("RESTART_MAX_DELAY", 30.0, _float(0, 3600), "largest restart delay, s")
    restart_reset_after: float = setting(
        "RESTART_RESET_AFTER", 60.0, _float(0, 86400), "a child running this long gets its back-off reset, s"
    )
    crash_loop_restarts: int = setting(
        "CRASH_LOOP_RESTARTS", 5, _int(1, 1000), "more restarts than this within the window is a crash loop"
    )
    crash_loop_window: float = setting("CRASH_LOOP_WINDOW", 60.0, _float(1, 86400), "crash-loop window, s")
    crash_loop_cooldown: float = setting(
        "CRASH_LOOP_COOLDOWN", 300.0, _float(0.1, 86400), "a crash-looping kind rests this long, then is tried again, s"
    )
    heartbeat_interval: float = setting("HEARTBEAT_INTERVAL", 1.0, _float(0.05, 60), "seconds between heartbeats")
    heartbeat_timeout: float = setting(
        "HEARTBEAT_TIMEOUT", 10.0, _float(0.1, 600), "a child silent this long is considered stuck"
    )
    hung_kill_after: float = setting(
        "HUNG_KILL_AFTER", 30.0, _float(0.1, 3600), "a child silent this long is killed and restarted, s"
    )
    ready_timeout: float = setting("READY_TIMEOUT", 60.0, _float(1, 600), "seconds a child has to report ready")

    # ---- messaging ----------------------------------------------------------------------------
    ipc_transport: str = setting("IPC_TRANSPORT", "ipc", _choice("ipc", "tcp"), "ipc (unix sockets) or tcp")
    ipc_host: str = setting("IPC_HOST", "127.0.0.1", _str, "host the tcp endpoints bind to and connect to")
    ipc_base_port: int = setting("IPC_BASE_PORT", 5550, _int(1024, 65000), "first tcp port of the endpoints")

    # ---- downloader hosts that join the main host (issue 18; README "Growing past one server") ----
    job_listen: str = setting(
        "JOB_LISTEN", "", _tcp_endpoint, "tcp://ADDRESS:PORT where downloader hosts join (CURVE keys required)"
    )
    join: str = setting("JOIN", "", _tcp_endpoint, "tcp://MAIN:PORT of the main host this downloader host joins")
    host_name: str = setting(
        "HOST_NAME", "", _host_name, "this host's name in process names and alerts", shown="hostname"
    )
    file_chunk_kb: int = setting("FILE_CHUNK_KB", 256, _int(4, 8192), "a file streams home in chunks this big, KiB")
    file_window_chunks: int = setting(
        "FILE_WINDOW_CHUNKS", 8, _int(1, 1024), "chunks of a file in flight before the main host's ack"
    )

    # ---- database ----------------------------------------------------------------------------
    db_busy_timeout: float = setting("DB_BUSY_TIMEOUT", 10.0, _float(0.1, 600), "seconds to wait for a lock")

    # ---- users and jobs (from the seeds) -----------------------------------------------------
    user_concurrent_downloads: int = setting(
        "USER_CONCURRENT_DOWNLOADS", 2, _int(1, 100), "downloads running at once per user; more links queue"
    )
    user_requests_per_min: int = setting("USER_REQUESTS_PER_MIN", 10, _int(1, 10000), "links a minute per user")
    global_requests_per_min: int = setting(
        "GLOBAL_REQUESTS_PER_MIN", 0, _int(0, 1000000), "links a minute for everyone together (0: off)"
    )
    queue_max: int = setting("QUEUE_MAX", 500, _int(1, 1000000), "jobs waiting at once; past it users hear 'busy'")
    user_queue_max: int = setting(
        "USER_QUEUE_MAX", 20, _int(1, 1000000), "jobs one user may have waiting at once; more are refused politely"
    )
    circuit_failures: int = setting("CIRCUIT_FAILURES", 5, _int(1, 1000), "failures that open a circuit")
    circuit_recovery: float = setting("CIRCUIT_RECOVERY", 60.0, _float(1, 86400), "seconds a circuit stays open")

    # ---- the journey of a link (gateway and downloaders) ----------------------------------------
    max_links_per_message: int = setting("MAX_LINKS_PER_MESSAGE", 5, _int(1, 50), "links of one message taken")
    playlist_max_items: int = setting("PLAYLIST_MAX_ITEMS", 20, _int(1, 500), "entries taken from a playlist")
    gallery_max_items: int = setting(
        "GALLERY_MAX_ITEMS", 20, _int(1, 200), "items taken from one image post or carousel (10 an album)"
    )
    download_slots_per_worker: int = setting(
        "DOWNLOAD_SLOTS_PER_WORKER", 4, _int(2, 64), "jobs one downloader runs at once (one slot kept for probes)"
    )
    job_attempts: int = setting("JOB_ATTEMPTS", 3, _int(1, 20), "tries of a job before it fails for good")
    job_retry_delay: float = setting("JOB_RETRY_DELAY", 2.0, _float(0, 3600), "first retry delay of a job, s")
    job_retry_max_delay: float = setting("JOB_RETRY_MAX_DELAY", 60.0, _float(0, 86400), "largest retry delay, s")
    progress_edit_interval: float = setting(
        "PROGRESS_EDIT_INTERVAL", 4.0, _float(0.5, 600), "seconds between edits of a progress message"
    )
    status_delay_s: float = setting(
        "STATUS_DELAY_S",
        1.5,
        _float(0, 60),
        "a job whose file is ready this soon after the link gets no status message, only the file, s (0: always)",
    )
    progress_report_interval: float = setting(
        "PROGRESS_REPORT_INTERVAL", 1.0, _float(0.05, 60), "seconds between progress reports to the gateway"
    )
    audio_format: str = setting("AUDIO_FORMAT", "m4a", _choice("m4a", "mp3"), "audio-only format for new users")
    caption_signature: str = setting("CAPTION_SIGNATURE", "", _str, "line added under every caption, e.g. @mybot")
    storage_chat_id: int = setting(
        "STORAGE_CHAT_ID", 0, _int(), "private channel (the bot an admin) inline mode uploads to; 0: cached media only"
    )

    # ---- the hostile internet (downloaders) -----------------------------------------------------
    max_duration_min: float = setting("MAX_DURATION_MIN", 180.0, _float(0.1, 100000), "longest media, minutes")
    max_file_mb: int = setting(
        "MAX_FILE_MB", 0, _int(0, 1000000), "largest download, MiB (0: the backend's upload cap)"
    )
    download_stall_s: float = setting(
        "DOWNLOAD_STALL_S", 60.0, _float(1, 3600), "a download with no bytes for this long is retried, s"
    )
    spool_max_gb: float = setting("SPOOL_MAX_GB", 40.0, _float(0.001, 100000), "size budget of the spool folder")
    download_proxy_url: tuple[str, ...] = setting(
        "DOWNLOAD_PROXY_URL", (), _proxy_list, "proxy or comma-separated proxies for downloads, used in turn"
    )
    proxy_set_aside_s: float = setting(
        "PROXY_SET_ASIDE_S", 300.0, _float(1, 86400), "a failing download proxy rests this long, s"
    )
    egress_allowed_ports: tuple[int, ...] = setting(
        "EGRESS_ALLOWED_PORTS", (), _port_list, "ports downloads may reach besides 80 and 443, comma-separated"
    )
    egress_resolver: tuple[str, int] | None = setting(
        "EGRESS_RESOLVER", None, _dns_server, "DNS server (ip[:port]) the egress guard asks; default: the system's"
    )

    # ---- gates: locks, limits, notices (gateway) --------------------------------------------------
    member_cache_ttl: float = setting("MEMBER_CACHE_TTL", 600.0, _float(0, 86400), "a verified member is trusted, s")
    nonmember_cache_ttl: float = setting("NONMEMBER_CACHE_TTL", 30.0, _float(0, 86400), "a non-member is trusted, s")
    member_cache_size: int = setting("MEMBER_CACHE_SIZE", 100_000, _int(1, 10_000_000), "membership answers kept")
    maintenance_notice_interval: float = setting(
        "MAINTENANCE_NOTICE_INTERVAL", 600.0, _float(0, 86400), "seconds between maintenance notices to a user"
    )
    notice_interval: float = setting(
        "NOTICE_INTERVAL", 60.0, _float(0, 86400), "seconds between repeated hints and rate notices to a user"
    )
    join_recheck_interval: float = setting(
        "JOIN_RECHECK_INTERVAL",
        10.0,
        _float(0, 3600),
        "a user's \"I've joined\" asks Telegram again at most this often, s",
    )
    held_link_ttl: float = setting(
        "HELD_LINK_TTL", 7 * 86400.0, _float(60, 365 * 86400), "seconds a link held behind a lock is kept"
    )

    # ---- Telegram send budget (the uploader's throttle) ---------------------------------------
    tg_global_rate: float = setting("TG_GLOBAL_RATE", 30.0, _float(0.1, 1000), "messages/s for the whole bot")
    tg_chat_rate: float = setting("TG_CHAT_RATE", 1.0, _float(0.01, 100), "messages/s per private chat")
    tg_chat_burst: int = setting("TG_CHAT_BURST", 3, _int(1, 100), "short burst allowed per private chat")
    tg_group_per_min: int = setting("TG_GROUP_PER_MIN", 20, _int(1, 1000), "messages/min per group or channel")
    send_attempts: int = setting("SEND_ATTEMPTS", 5, _int(1, 100), "transient failures before a send is given up")
    upload_concurrency: int = setting("UPLOAD_CONCURRENCY", 3, _int(1, 32), "files uploaded at once")
    upload_stall_s: float = setting(
        "UPLOAD_STALL_S", 60.0, _float(1, 3600), "an upload with no progress for this long is retried, s"
    )
    split_large_files: bool = setting(
        "SPLIT_LARGE_FILES", True, _bool, "cut videos over the upload cap into playable parts"
    )
    outbox_keep_days: float = setting(
        "OUTBOX_KEEP_DAYS", 7.0, _float(0, 3650), "sent outbox rows and ended broadcasts' deliveries are kept, days"
    )

    # ---- sandbox (the local Telegram stand-in; each value changeable live via POST /sandbox/config) ----
    sandbox_host: str = setting("SANDBOX_HOST", "127.0.0.1", _str, "address the sandbox listens on")
    sandbox_limits: bool = setting("SANDBOX_LIMITS", True, _bool, "enforce Telegram's rate and size limits")
    sandbox_bot_rate: float = setting("SANDBOX_BOT_RATE", 30.0, _float(0.1, 100000), "sends+edits/s per bot")
    sandbox_chat_rate: float = setting("SANDBOX_CHAT_RATE", 1.0, _float(0.01, 10000), "sends/s per private chat")
    sandbox_chat_burst: int = setting("SANDBOX_CHAT_BURST", 3, _int(1, 10000), "burst allowed per private chat")
    sandbox_group_per_min: int = setting("SANDBOX_GROUP_PER_MIN", 20, _int(1, 100000), "sends/min per group")
    sandbox_upload_limit_mb: int = setting("SANDBOX_UPLOAD_LIMIT_MB", 2000, _int(1, 4000), "upload cap, MiB")
    sandbox_cloud_mode: bool = setting("SANDBOX_CLOUD_MODE", False, _bool, "imitate the cloud Bot API: 50 MB uploads")
    sandbox_media_dir: Path | None = setting(
        "SANDBOX_MEDIA_DIR", None, _path, "folder of the sample media, made once and reused (default: in DATA_DIR)"
    )

    # ---- monitor -------------------------------------------------------------------------------
    health_check_interval: float = setting("HEALTH_CHECK_INTERVAL", 60.0, _float(1, 86400), "seconds")
    alert_cooldown: float = setting("ALERT_COOLDOWN", 300.0, _float(0, 86400), "seconds between equal alerts")
    alert_disk_free_pct: float = setting("ALERT_DISK_FREE_PCT", 10.0, _float(0, 100), "critical below this")
    alert_memory_pct: float = setting("ALERT_MEMORY_PCT", 85.0, _float(0, 100), "warning above this")
    alert_cpu_pct: float = setting("ALERT_CPU_PCT", 90.0, _float(0, 100), "warning above this")
    alert_downloads_gb: float = setting("ALERT_DOWNLOADS_GB", 50.0, _float(0, 100000), "spool warning above, GB")
    alert_failure_pct: float = setting(
        "ALERT_FAILURE_PCT", 30.0, _float(0, 100), "warning when more jobs than this % fail in the window"
    )
    alert_failure_window_min: float = setting(
        "ALERT_FAILURE_WINDOW_MIN", 15.0, _float(1, 1440), "window of the failure rate, minutes"
    )
    alert_failure_min_jobs: int = setting(
        "ALERT_FAILURE_MIN_JOBS", 20, _int(1, 1000000), "jobs that must end in the window before the rate counts"
    )
    alert_send_queue_age_s: float = setting(
        "ALERT_SEND_QUEUE_AGE_S", 300.0, _float(1, 86400), "warning when a due message waits longer, s"
    )
    summary_interval: float = setting(
        "SUMMARY_INTERVAL", 300.0, _float(1, 86400), "seconds between the monitor's summary lines in the log"
    )
    sweep_interval: float = setting("SWEEP_INTERVAL", 3600.0, _float(1, 86400), "seconds between sweeps")
    sweep_min_age_s: float = setting(
        "SWEEP_MIN_AGE_S", 600.0, _float(0, 86400 * 30), "leftovers younger than this are not swept, s"
    )
    log_keep_days: float = setting(
        "LOG_KEEP_DAYS", 14.0, _float(0, 3650), "rotated log files in DATA_DIR/logs older than this are swept, days"
    )
    backup_interval_h: float = setting(
        "BACKUP_INTERVAL_H", 24.0, _float(0, 24 * 365), "hours between backups while the bot runs (0: none)"
    )
    backup_keep: int = setting("BACKUP_KEEP", 7, _int(1, 1000), "backups kept in DATA_DIR/backups")

    # ---- admin panel (gateway) ------------------------------------------------------------------
    admin_step_ttl: float = setting(
        "ADMIN_STEP_TTL", 600.0, _float(10, 86400), "seconds an admin's confirmation or awaited value stays valid"
    )
    chart_font: Path = setting(
        "CHART_FONT",
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        _path,
        "TrueType font with Persian and Latin glyphs for the /stats chart (Debian: fonts-dejavu-core)",
    )

    # ---- yt-dlp (downloaders) -------------------------------------------------------------------
    ytdlp_pot_provider_url: str = setting(
        "YTDLP_POT_PROVIDER_URL", "", _url_or_empty, "bgutil PO-token server for YouTube, e.g. http://127.0.0.1:4416"
    )
    ytdlp_max_age_days: int = setting(
        "YTDLP_MAX_AGE_DAYS", 60, _int(1, 3650), "--check warns when yt-dlp is older than this, days"
    )
    ytdlp_upgrade_source: tuple[str, ...] = setting(
        "YTDLP_UPGRADE_SOURCE", (), _pip_args, "pip options for /ytdlp update, e.g. --find-links DIR --no-index"
    )
    ytdlp_check_url: str = setting(
        "YTDLP_CHECK_URL",
        "https://www.youtube.com/watch?v=jNQXAC9IVRw",
        _url,
        "a link probed after a yt-dlp upgrade; a failed probe rolls the upgrade back",
    )

    # ---- logging -----------------------------------------------------------------------------
    log_level: str = setting("LOG_LEVEL", "INFO", _choice("debug", "info", "warning", "error"), "log level")
    log_format: str = setting("LOG_FORMAT", "text", _choice("text", "json"), "text (key=value) or json lines")
    log_file_max_mb: int = setting("LOG_FILE_MAX_MB", 20, _int(1, 10000), "size of one log file in DATA_DIR/logs")
    log_file_count: int = setting("LOG_FILE_COUNT", 5, _int(1, 1000), "rotated log files kept per process")
    log_user_ids: bool = setting("LOG_USER_IDS", False, _bool, "log user ids as they are (default: salted hash)")

    # ---- derived paths -------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        """Sockets and pid files; short, because unix socket paths are limited to 107 bytes."""
        return self.data_dir / "run"

    @property
    def run_lock_path(self) -> Path:
        """Held by the running supervisor: one bot per data folder, no restore under a running bot."""
        return self.run_dir / "supervisor.lock"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "bot.sqlite3"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def session_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def cookies_dir(self) -> Path:
        """Per-platform cookie files: `<platform>.txt`, or several in `<platform>/` that rotate."""
        return self.data_dir / "cookies"

    @property
    def backend_upload_limit_mb(self) -> int:
        """The most one upload may weigh on this backend, MiB. Over MTProto: UPLOAD_LIMIT_MB, at
        most what a bot may send, or with a Premium session what a Premium user may send (files
        over the bot's cap then go through that session whole)."""
        if self.telegram_backend != "mtproto":
            return self.botapi_upload_limit_mb
        cap = MTPROTO_PREMIUM_UPLOAD_MIB if self.premium_session else MTPROTO_BOT_UPLOAD_MIB
        return min(self.upload_limit_mb, cap)

    @property
    def max_file_bytes(self) -> int:
        """The largest download: MAX_FILE_MB, or the backend's upload cap when that is 0."""
        return (self.max_file_mb or self.backend_upload_limit_mb) * MIB

    @property
    def curve_dir(self) -> Path:
        """This host's CURVE keys (`run.py keys`), `authorized/` and `server.key` (README)."""
        return self.data_dir / "curve"

    @property
    def this_host(self) -> str:
        """HOST_NAME, or the machine's name."""
        return self.host_name or socket.gethostname().split(".")[0][:64] or "host"

    @property
    def sandbox_origin(self) -> tuple[str, int] | None:
        """(host, port) of the sandbox in sandbox mode: the only place downloads may reach."""
        return (self.sandbox_host, self.sandbox_port) if self.sandbox else None

    def secrets(self) -> list[str]:
        """Every secret value, so that the log filter can redact them: the Secret settings and the
        passwords inside proxy URLs."""
        found = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret) and value.value:
                found.append(value.value)
        for proxy in (self.proxy_url, *self.download_proxy_url):
            password = urllib.parse.urlsplit(proxy).password
            if password:
                found += {password, urllib.parse.unquote(password)}
        return found

    def check_credentials(self) -> None:
        """Refuse to start for real without what Telegram needs."""
        if self.sandbox:
            return
        if not self.bot_token:
            raise SettingsError("BOT_TOKEN", "is not set; get one from @BotFather, or try the bot with --sandbox")
        if self.telegram_backend == "mtproto":
            if self.api_id is None:
                raise SettingsError("API_ID", "is required with TELEGRAM_BACKEND=mtproto (or use botapi)")
            if not self.api_hash:
                raise SettingsError("API_HASH", "is required with TELEGRAM_BACKEND=mtproto (or use botapi)")


def env_names() -> dict[str, dataclasses.Field[Any]]:
    return {f.metadata["env"]: f for f in dataclasses.fields(Settings)}


def read_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines; '#' comments, blank lines, optional quotes and `export`."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path}:{number}", "expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def load_settings(
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = Path(".env"),
    overrides: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from defaults, `.env`, the environment and flag overrides."""
    merged: dict[str, str] = {}
    if env_file is not None:
        merged.update(read_env_file(env_file))
    merged.update(os.environ if environ is None else environ)
    merged.update(overrides or {})
    values: dict[str, Any] = {}
    for env, f in env_names().items():
        raw = merged.get(env)
        if raw is None or raw.strip() == "":
            continue
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            shown = "" if f.metadata["secret"] else f" (got {raw!r})"
            raise SettingsError(env, f"{exc}{shown}") from None
    settings = Settings(**values)
    check_relations(settings)
    return settings


def check_relations(settings: Settings) -> None:
    """The rules between settings (each value alone was checked by its parser)."""
    if settings.restart_min_delay > settings.restart_max_delay:
        raise SettingsError("RESTART_MIN_DELAY", "must not exceed RESTART_MAX_DELAY")
    if settings.heartbeat_timeout <= settings.heartbeat_interval:
        raise SettingsError("HEARTBEAT_TIMEOUT", "must be longer than HEARTBEAT_INTERVAL")
    if settings.hung_kill_after < settings.heartbeat_timeout:
        raise SettingsError("HUNG_KILL_AFTER", "must not be shorter than HEARTBEAT_TIMEOUT")
    if settings.workers == 0 and not settings.job_listen:
        raise SettingsError(
            "WORKERS", "must be at least 1 (0 only on a main host with JOB_LISTEN: hosts join to download)"
        )
    if settings.job_listen and settings.join:
        raise SettingsError("JOIN", "a host either listens for downloader hosts (JOB_LISTEN) or joins one, not both")
    if settings.job_retry_delay > settings.job_retry_max_delay:
        raise SettingsError("JOB_RETRY_DELAY", "must not exceed JOB_RETRY_MAX_DELAY")


def as_environ(env: str, value: Any) -> str:
    """One setting's value as its environment string (what its parser reads back)."""
    if value is None:
        return ""
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        if env_names()[env].metadata["parse"] is _pip_args:
            return shlex.join(value)
        return ",".join(str(v) for v in value)
    return str(value)


def to_environ(overrides: Mapping[str, Any]) -> dict[str, str]:
    """Render setting values as environment strings, for passing flags on to child processes."""
    out = {}
    for env, value in overrides.items():
        if env not in env_names():
            raise KeyError(env)
        out[env] = as_environ(env, value)
    return out
