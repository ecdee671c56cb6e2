"""Settings: defaults, precedence, and every bad value refused with its variable named."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import Secret, SettingsError, load_settings, read_env_file
from core.logs import RedactSecrets
from tests.support.paths import ROOT

TOKEN = "123456:ABCdefGHIjklMNO"


def load(env: dict[str, str], env_file: Path | None = None, **overrides: str):
    return load_settings(environ=env, env_file=env_file, overrides=overrides)


def test_defaults_are_the_documented_ones():
    s = load({})
    assert s.telegram_backend == "mtproto"
    assert s.botapi_url == "https://api.telegram.org"
    assert s.admin_ids == ()
    assert s.shutdown_grace == 20.0
    assert (s.restart_min_delay, s.restart_max_delay, s.restart_reset_after) == (0.5, 30.0, 60.0)
    assert (s.crash_loop_restarts, s.crash_loop_window) == (5, 60.0)
    assert (s.user_concurrent_downloads, s.user_requests_per_min, s.global_requests_per_min) == (2, 10, 0)
    assert (s.tg_global_rate, s.tg_chat_rate, s.tg_group_per_min) == (30.0, 1.0, 20)
    assert (s.alert_disk_free_pct, s.alert_memory_pct, s.alert_cpu_pct, s.alert_downloads_gb) == (10, 85, 90, 50)
    assert (s.health_check_interval, s.alert_cooldown, s.circuit_failures, s.circuit_recovery) == (60, 300, 5, 60)


def test_values_parse_and_flags_beat_environment_beat_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nexport ADMIN_IDS='1, 2'\nWORKERS=3\nDATA_DIR=/from/file\n")
    s = load({"WORKERS": "5", "BOT_TOKEN": TOKEN}, env_file, WORKERS="7")
    assert s.admin_ids == (1, 2)
    assert s.workers == 7
    assert s.data_dir == Path("/from/file")
    assert s.bot_token is not None and s.bot_token.reveal() == TOKEN


def test_workers_auto_is_one_per_core():
    import os

    assert load({"WORKERS": "auto"}).workers == (os.cpu_count() or 1)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("BOT_TOKEN", "not-a-token", "<bot id>:<key>"),
        ("API_ID", "abc", "whole number"),
        ("API_ID", "-4", "at least 1"),
        ("ADMIN_IDS", "1,two", "'two' is not a number"),
        ("TELEGRAM_BACKEND", "carrier-pigeon", "one of mtproto, botapi"),
        ("BOTAPI_URL", "ftp://x", "http://"),
        ("WORKERS", "0", "at least 1"),
        ("WORKERS", "many", "whole number"),
        ("SANDBOX_PORT", "70000", "at most 65535"),
        ("MONITOR_PORT", "x", "whole number"),
        ("SHUTDOWN_GRACE", "-1", "at least 0"),
        ("SHUTDOWN_GRACE", "nan", "finite"),
        ("SANDBOX", "maybe", "true or false"),
        ("IPC_TRANSPORT", "udp", "one of ipc, tcp"),
        ("PROXY_URL", "ftp://proxy", "socks5://"),
        ("LOG_LEVEL", "loud", "one of"),
        ("TG_GLOBAL_RATE", "0", "at least"),
        ("DATA_DIR", "   ", None),
    ],
)
def test_bad_value_is_refused_naming_the_variable(name, value, reason):
    if name == "DATA_DIR":  # blank means unset: the default applies
        assert load({name: value}).data_dir == Path("data")
        return
    with pytest.raises(SettingsError) as err:
        load({name: value})
    assert err.value.name == name
    assert str(err.value).startswith(f"{name}: ")
    assert reason in str(err.value)


def test_cross_field_rules_name_a_variable():
    with pytest.raises(SettingsError, match=r"^RESTART_MIN_DELAY: "):
        load({"RESTART_MIN_DELAY": "10", "RESTART_MAX_DELAY": "5"})
    with pytest.raises(SettingsError, match=r"^HEARTBEAT_TIMEOUT: "):
        load({"HEARTBEAT_INTERVAL": "5", "HEARTBEAT_TIMEOUT": "2"})


def test_malformed_env_file_line_is_named(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("GOOD=1\nthis line has no equals sign\n")
    with pytest.raises(SettingsError, match=r"\.env:2"):
        read_env_file(env_file)


def test_secrets_never_show_in_repr_or_errors():
    s = load({"BOT_TOKEN": TOKEN, "API_HASH": "0123456789abcdef", "API_ID": "42"})
    assert TOKEN not in repr(s) and "0123456789abcdef" not in repr(s)
    assert repr(Secret("x")) == "Secret('***')" and str(Secret("x")) == "Secret('***')"
    with pytest.raises(SettingsError) as err:
        load({"BOT_TOKEN": "secret-but-malformed"})
    assert "secret-but-malformed" not in str(err.value)


def test_log_filter_redacts_secret_values():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "calling %s/getMe", (f"bot{TOKEN}",), None)
    RedactSecrets([TOKEN]).filter(record)
    assert TOKEN not in record.getMessage() and "***" in record.getMessage()


def test_credentials_are_required_without_sandbox():
    with pytest.raises(SettingsError, match=r"^BOT_TOKEN: .*--sandbox"):
        load({}).check_credentials()
    with pytest.raises(SettingsError, match=r"^API_ID: "):
        load({"BOT_TOKEN": TOKEN}).check_credentials()
    load({"BOT_TOKEN": TOKEN, "TELEGRAM_BACKEND": "botapi"}).check_credentials()
    load({"SANDBOX": "1"}).check_credentials()


def run_py(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_run_py_without_credentials_names_bot_token_and_sandbox(tmp_path):
    result = run_py("--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    assert result.returncode != 0
    assert "BOT_TOKEN" in result.stderr and "--sandbox" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_py_refuses_a_bad_flag_value_naming_the_variable(tmp_path):
    result = run_py("--workers", "zero", "--sandbox", cwd=tmp_path)
    assert result.returncode == 2
    assert "WORKERS" in result.stderr and "Traceback" not in result.stderr
