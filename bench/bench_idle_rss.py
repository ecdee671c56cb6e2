"""RSS of each process of an idle `run.py --workers 2` system (goal: all together under 350 MB).

Usage: .venv/bin/python bench/bench_idle_rss.py [--sandbox] [--samples 5]
Prints the median over the samples of each process's RSS, and of the total.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
READY_TIMEOUT = 120.0
SETTLE = 3.0  # seconds after `ready:` before sampling, so start-up garbage is collected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", action="store_true", help="also run (and count) the sandbox")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "BOT_TOKEN": "123456:bench-token",
            "TELEGRAM_BACKEND": "botapi",
            "BOTAPI_URL": "http://127.0.0.1:9",
        }
        cmd = [sys.executable, str(ROOT / "run.py"), "--workers", "2", "--data-dir", tmp, "--monitor-port", "0"]
        if args.sandbox:
            cmd.append("--sandbox")
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("ready:"):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("not ready in time")
            time.sleep(SETTLE)
            samples: dict[str, list[float]] = {}
            for _ in range(args.samples):
                procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
                for p in procs:
                    cmdline = p.cmdline()
                    name = (
                        "supervisor"
                        if p.pid == proc.pid
                        else (cmdline[cmdline.index("--name") + 1] if "--name" in cmdline else cmdline[2])
                    )
                    samples.setdefault(name, []).append(p.memory_info().rss / 2**20)
                time.sleep(1)
            total = 0.0
            for name, values in sorted(samples.items()):
                median = statistics.median(values)
                total += median
                print(f"rss {name:<14} {median:7.1f} MB")
            print(f"rss total          {total:7.1f} MB  (goal < 350 MB)")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
