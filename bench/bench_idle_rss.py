"""RSS of each process of an idle `run.py --workers 2` system (goal: all together under 350 MB).

Usage: .venv/bin/python bench/bench_idle_rss.py [--sandbox] [--samples 5] [--backend both|botapi|mtproto]
Prints the median over the samples of each process's RSS, and of the total: first on the Bot API
backend (aimed at a closed local port), then on mtproto, the production default. On mtproto the
gateway and the uploader run kurigram's real client against the contract suite's fake Telegram
(bench/fake_telegram/sitecustomize.py: one fake in each of their processes, cut at the RPC
boundary, nothing dialled; PROXY_URL points at a closed local port besides), and are sampled
once both have logged in. Their figures include the fake's own share (printed as
`fake telegram`, measured in a separate interpreter), so they are a little above production's.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.table import result  # noqa: E402

TABLE_ARGS = ["--samples", "3"]  # `make bench`: both backends, three samples each
FAKE_SITE = ROOT / "bench" / "fake_telegram"
READY_TIMEOUT = 120.0
SETTLE = 3.0  # seconds after `ready:` before sampling, so start-up garbage is collected
GOAL_MB = 350
LOGGED_IN = ("mtproto gateway started", "mtproto uploader started")  # the adapters' log lines
FAKE_API_ID = "4242"
FAKE_API_HASH = "0123456789abcdef0123456789abcdef"


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def backend_env(backend: str) -> dict[str, str]:
    env = {**os.environ, "BOT_TOKEN": "123456:bench-token", "TELEGRAM_BACKEND": backend}
    if backend == "botapi":
        env["BOTAPI_URL"] = "http://127.0.0.1:9"
    else:
        env.update(
            FAKE_MTPROTO="1",
            PYTHONPATH=os.pathsep.join([str(FAKE_SITE), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            API_ID=FAKE_API_ID,
            API_HASH=FAKE_API_HASH,
            PROXY_URL=f"socks5://127.0.0.1:{closed_port()}",
        )
    return env


class Output:
    """The bot's stdout and stderr, read as they come (a full pipe would stall it)."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def wait_for(self, needles: tuple[str, ...], deadline: float) -> None:
        with self.changed:
            while not all(any(n in line for line in self.lines) for n in needles):
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    tail = "".join(self.lines[-20:])
                    raise SystemExit(f"not ready in time (waiting for {needles}); last output:\n{tail}")


def measure(backend: str, *, sandbox: bool, samples: int) -> dict[str, float]:
    """Median RSS in MB of each process of an idle bot on `backend`."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(ROOT / "run.py"), "--workers", "2", "--data-dir", tmp, "--monitor-port", "0"]
        if sandbox:
            cmd.append("--sandbox")
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=backend_env(backend), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            output = Output(proc.stdout)
            output.wait_for(("ready:", *(LOGGED_IN if backend == "mtproto" else ())), time.monotonic() + READY_TIMEOUT)
            time.sleep(SETTLE)
            values: dict[str, list[float]] = {}
            for _ in range(samples):
                procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
                for p in procs:
                    cmdline = p.cmdline()
                    name = (
                        "supervisor"
                        if p.pid == proc.pid
                        else (cmdline[cmdline.index("--name") + 1] if "--name" in cmdline else cmdline[2])
                    )
                    values.setdefault(name, []).append(p.memory_info().rss / 2**20)
                time.sleep(1)
            if any("Traceback" in line for line in output.lines):
                print("".join(output.lines), file=sys.stderr)
                raise SystemExit(f"the {backend} run logged a traceback")
            return {name: statistics.median(v) for name, v in values.items()}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def fake_share() -> float:
    """RSS in MB that the fake Telegram adds to a process that already runs the mtproto adapter."""
    code = (
        "import core.telegram.mtproto, psutil, sitecustomize; p = psutil.Process(); before = p.memory_info().rss;"
        "sitecustomize.load_fake(); print((p.memory_info().rss - before) / 2**20)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKE_SITE), str(ROOT)])}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout)


def report(medians: dict[str, float], label: str) -> None:
    total = 0.0
    for name, median in sorted(medians.items()):
        total += median
        print(f"rss {name:<14} {median:7.1f} MB")
    print(f"rss total{label:<9} {total:7.1f} MB  (goal < {GOAL_MB} MB)")
    backend = label.strip() or "botapi"
    figure = f"idle `--workers 2` system, RSS of all processes ({backend})"
    result(figure, total, "MB", goal=f"< {GOAL_MB} MB", digits=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox", action="store_true", help="also run (and count) the sandbox")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--backend", choices=("both", "botapi", "mtproto"), default="both")
    args = parser.parse_args()
    if args.backend in ("both", "botapi"):
        report(measure("botapi", sandbox=args.sandbox, samples=args.samples), "")
    if args.backend in ("both", "mtproto"):
        print("on mtproto (kurigram against a fake Telegram in the gateway and the uploader):")
        report(measure("mtproto", sandbox=args.sandbox, samples=args.samples), " mtproto")
        print(f"rss fake telegram  {fake_share():7.1f} MB  (in each of the gateway and the uploader, counted above)")


if __name__ == "__main__":
    main()
