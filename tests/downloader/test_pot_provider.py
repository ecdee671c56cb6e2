"""The bgutil PO-token plugin for YouTube: switched on by YTDLP_POT_PROVIDER_URL, off without it.

Plugin loading is global to a process, so each case runs in a fresh interpreter that builds the
engine's YoutubeDL exactly as a downloader does and lists the PO-token providers yt-dlp loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.paths import ROOT

PROBE = """
import json, yt_dlp
from core.config import load_settings
from downloader.engine import Engine
engine = Engine(load_settings(env_file=None))
ydl = yt_dlp.YoutubeDL(engine.options(0))
from yt_dlp.extractor.youtube.pot._registry import _pot_providers
print(json.dumps({"providers": sorted(_pot_providers.value), "args": ydl.params.get("extractor_args", {})}))
"""


def loaded(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("YTDLP_", "SANDBOX"))}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_without_a_provider_url_the_plugin_is_not_loaded():
    assert not any("BgUtil" in name for name in loaded()["providers"])


def test_with_a_provider_url_the_plugin_asks_that_server():
    found = loaded(YTDLP_POT_PROVIDER_URL="http://127.0.0.1:4416")
    assert "BgUtilHTTP" in found["providers"], found
    assert found["args"] == {"youtubepot-bgutilhttp": {"base_url": ["http://127.0.0.1:4416"]}}
