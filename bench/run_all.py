"""`make bench`: run every benchmark that joins the table, and write the table into the README.

    .venv/bin/python bench/run_all.py [--runs 1] [--only sending,ipc] [--full] [--no-write]

Each `bench/bench_<name>.py` that declares `TABLE_ARGS` (see `bench/table.py`) is run with those
arguments (its quick run; `--full` runs it with its own defaults, the long runs), `--runs` times;
the table holds, for each figure it printed, the median over the runs, the goal and the command.
The table replaces the block between the BEGIN/END markers in README.md, under a line with the
date, the machine's core count, its "machine speed" (a fixed Python loop; lower is faster:
this shared machine's speed varies by 2x, and every figure moves with it), the load average and
how long the run took. A figure without a goal in its issue says "no goal". A part a benchmark
cannot run here (`skipped()`: network namespaces need root) is named under the table with the
reason. A benchmark without `TABLE_ARGS` is named at the end as not in the table.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import machine_speed  # noqa: E402
from bench.table import SKIP_PREFIX, parse  # noqa: E402

README = ROOT / "README.md"
BEGIN = "<!-- BEGIN benchmark table: written by `make bench` (bench/run_all.py); do not edit -->"
END = "<!-- END benchmark table -->"
BENCH_TIMEOUT_S = 1800  # one benchmark run; a stuck one is stopped and named, the rest go on


def table_args(script: Path) -> list[str] | None:
    """The script's TABLE_ARGS, read without importing it (None: it does not join the table)."""
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "TABLE_ARGS" for t in node.targets):
            return [str(a) for a in ast.literal_eval(node.value)]
    return None


def run_one(script: Path, args: list[str]) -> tuple[list[dict], list[dict], str]:
    """Run a benchmark; its result lines, its skip lines, and what went wrong ("" if nothing)."""
    began = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(script), *args], cwd=ROOT, capture_output=True, text=True, timeout=BENCH_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return [], [], f"stopped after {BENCH_TIMEOUT_S} s"
    sys.stdout.write(done.stdout)
    print(f"   ({time.monotonic() - began:.0f} s)", flush=True)
    results, skips = parse(done.stdout), parse(done.stdout, SKIP_PREFIX)
    if done.returncode != 0:
        return results, skips, f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    return results, skips, ""


def median_rows(runs: list[list[dict]]) -> list[dict]:
    """One row per figure (in the order of the first run), its value the median over the runs."""
    order: list[str] = []
    by_figure: dict[str, list[dict]] = {}
    for results in runs:
        for r in results:
            if r["figure"] not in by_figure:
                order.append(r["figure"])
            by_figure.setdefault(r["figure"], []).append(r)
    rows = []
    for figure in order:
        got = by_figure[figure]
        value = statistics.median(float(r["value"]) for r in got)
        rows.append({**got[0], "value": value, "runs": len(got)})
    return rows


def cell(row: dict) -> str:
    shown = f"{row['value']:,.{int(row['digits'])}f}" + (f" {row['unit']}" if row["unit"] else "")
    if row["runs"] > 1:
        shown += f" (median of {row['runs']})"
    return shown + (f"; {row['note']}" if row["note"] else "")


def render(rows: list[dict], header: str, skipped: Sequence[str] = ()) -> str:
    lines = [header, "", "| figure | goal | measured | command |", "|---|---|---|---|"]
    for row in rows:
        goal = row["goal"] or "no goal"
        lines.append(f"| {row['figure']} | {goal} | **{cell(row)}** | `.venv/bin/python {row['command']}` |")
    if skipped:
        lines += ["", "Not measured in this run: " + "; ".join(skipped) + "."]
    return "\n".join(lines)


def write_readme(block: str) -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"README.md has no {BEGIN!r} ... {END!r} block to write the table into")
    README.write_text(text[: start + len(BEGIN)] + "\n" + block + "\n" + text[end:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs of each benchmark (the table shows medians)")
    parser.add_argument("--only", default="", help="comma-separated names (bench_<name>.py) to run")
    parser.add_argument("--full", action="store_true", help="each benchmark's own defaults: the long runs")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave README.md alone")
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    began, load_before = time.monotonic(), os.getloadavg()[0]
    speed = machine_speed()
    header = (
        f"Measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores; machine speed: a fixed Python "
        f"loop takes {speed:.1f} ms (lower is faster)"
    )
    print(f"{header}; load average {load_before:.1f}.", flush=True)
    rows: list[dict] = []
    left_out, failed, skipped = [], [], []
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        quick = table_args(script)
        if quick is None:
            left_out.append(script.name)
            continue
        runs = []
        for i in range(args.runs):
            shown = "(full)" if args.full else " ".join(quick)
            print(f"== {script.name} {shown} [{i + 1}/{args.runs}]", flush=True)
            results, skips, trouble = run_one(script, [] if args.full else quick)
            if trouble:
                failed.append(f"{script.name}: {trouble}")
            for skip in skips:
                named = f"`{script.name}` ({skip['what']}): {skip['reason']}"
                if named not in skipped:
                    skipped.append(named)
            runs.append(results)
        rows += median_rows(runs)
    header += (
        f"; load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (a shared machine). "
        f"`make bench` ({'full' if args.full else 'quick'} runs, {args.runs} each) took "
        f"{(time.monotonic() - began) / 60:.0f} min."
    )
    block = render(rows, header, skipped)
    print("\n" + block)
    if left_out:
        print(f"\nnot in the table (no TABLE_ARGS): {', '.join(left_out)}")
    if not args.no_write and rows and not only:
        write_readme(block)
        print("README.md: the table is written")
    if failed:
        raise SystemExit("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
