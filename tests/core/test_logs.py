"""The log line: one per event, key=value or JSON, with the process, pid and job; secrets redacted;
files under DATA_DIR/logs rotated by size."""

from __future__ import annotations

import json
import logging
import os

import pytest
import trio

from core.logs import job_context, setup_logging

TOKEN = "123456:AAlog-test-token-value"


@pytest.fixture
def logger(tmp_path):
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def configure(**options):
        setup_logging("tester", "DEBUG", [TOKEN], log_dir=tmp_path / "logs", **options)
        return logging.getLogger("tests.logs")

    yield configure
    for handler in root.handlers:
        handler.close()
    root.handlers[:], root.level = saved


def lines(tmp_path) -> list[str]:
    return (tmp_path / "logs" / "tester.log").read_text(encoding="utf-8").splitlines()


def test_a_text_line_has_the_process_pid_and_job_and_stays_one_line(logger, tmp_path):
    log = logger()
    with job_context(42):
        log.info("first line\nsecond line with %s", "a value")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("job 7 failed")
    first, second = lines(tmp_path)
    assert f" level=info proc=tester pid={os.getpid()} logger=tests.logs job=42 " in first
    assert first.endswith('msg="first line\\nsecond line with a value"')
    assert " job=7 " in second and 'exc="Traceback' in second and "ValueError: boom" in second


def test_json_lines(logger, tmp_path):
    log = logger(fmt="json")
    log.warning("job 3 will be retried: %s", "network")
    [line] = lines(tmp_path)
    fields = json.loads(line)
    assert {k: fields[k] for k in ("level", "proc", "pid", "logger", "job", "msg")} == {
        "level": "warning",
        "proc": "tester",
        "pid": os.getpid(),
        "logger": "tests.logs",
        "job": 3,
        "msg": "job 3 will be retried: network",
    }


async def test_the_job_follows_a_task_into_its_thread(logger, tmp_path):
    log = logger()
    with job_context(99):
        await trio.to_thread.run_sync(log.info, "inside yt-dlp's thread")
    log.info("after the job")
    inside, after = lines(tmp_path)
    assert " job=99 " in inside and " job=" not in after


def test_secrets_and_url_passwords_never_reach_a_line(logger, tmp_path):
    log = logger()
    log.info("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    log.info("proxy socks5://user:pa55word@10.0.0.1:1080 failed; http://u:p%%40ss@h:8080 too")
    try:
        raise RuntimeError(f"bad token {TOKEN}")
    except RuntimeError:
        log.exception("oops")
    text = "\n".join(lines(tmp_path))
    assert TOKEN not in text and "pa55word" not in text and "p%40ss" not in text
    assert "socks5://user:***@10.0.0.1:1080" in text and "bot***/getMe" in text


def test_files_rotate_at_the_size_and_keep_the_count(logger, tmp_path):
    log = logger(file_max_bytes=2000, file_count=2)
    for i in range(200):
        log.info("line %d %s", i, "x" * 50)
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["tester.log", "tester.log.1", "tester.log.2"]
    assert all((tmp_path / "logs" / name).stat().st_size <= 2000 for name in files)
