"""The benchmark table: every benchmark that joins it prints its figures as result lines, and
`make bench` (`bench/run_all.py`) runs them all and writes the one table the README shows.

To join, a benchmark script `bench/bench_<name>.py`:
- declares `TABLE_ARGS = [...]` at module level, a literal list of the arguments of its quick run
  (the runner reads it without importing the script; long runs stay behind the script's flags);
- calls `result(...)` once per figure, with the median it measured and the goal the issue gives.

A result line is `BENCH-RESULT {json}`: the runner reads these from the script's output, takes the
median of each figure over its runs (`--runs`), and writes them in the order they came.
"""

from __future__ import annotations

import json
import sys

PREFIX = "BENCH-RESULT "


def result(figure: str, value: float, unit: str, *, goal: str = "", digits: int = 2, note: str = "") -> None:
    """Print one figure as a result line (and nothing else: the script prints its own prose)."""
    line = {"figure": figure, "value": value, "unit": unit, "goal": goal, "digits": digits, "note": note}
    line["command"] = "bench/" + sys.argv[0].rsplit("/", 1)[-1] + "".join(f" {a}" for a in sys.argv[1:])
    print(PREFIX + json.dumps(line, ensure_ascii=False), flush=True)


def parse(output: str) -> list[dict]:
    """The result lines of a script's output, in order."""
    return [json.loads(line[len(PREFIX) :]) for line in output.splitlines() if line.startswith(PREFIX)]
