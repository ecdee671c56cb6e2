"""The benchmark table: every benchmark that joins it prints its figures as result lines, and
`make bench` (`bench/run_all.py`) runs them all and writes the one table the README shows.

To join, a benchmark script `bench/bench_<name>.py`:
- declares `TABLE_ARGS = [...]` at module level, a literal list of the arguments of its quick run
  (the runner reads it without importing the script; long runs stay behind the script's flags);
- calls `result(...)` once per figure, with the median it measured and the goal the issue gives
  (none: the table says "no goal");
- calls `skipped(...)` for a part it cannot run on this machine (network namespaces need root),
  and exits 0: the runner names the part and the reason under the table instead of failing.

A result line is `BENCH-RESULT {json}`: the runner reads these from the script's output, takes the
median of each figure over its runs (`--runs`), and writes them in the order they came. A skip
line is `BENCH-SKIPPED {json}`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PREFIX = "BENCH-RESULT "
SKIP_PREFIX = "BENCH-SKIPPED "
_borrowing = False  # inside `borrowed()`


def result(figure: str, value: float, unit: str, *, goal: str = "", digits: int = 2, note: str = "") -> None:
    """Print one figure as a result line (and nothing else: the script prints its own prose)."""
    if _borrowing:
        return
    line = {"figure": figure, "value": value, "unit": unit, "goal": goal, "digits": digits, "note": note}
    line["command"] = "bench/" + sys.argv[0].rsplit("/", 1)[-1] + "".join(f" {a}" for a in sys.argv[1:])
    print(PREFIX + json.dumps(line, ensure_ascii=False), flush=True)


@contextmanager
def borrowed() -> Iterator[None]:
    """Run another benchmark's phase as part of this one: its figures stay that benchmark's rows."""
    global _borrowing
    _borrowing = True
    try:
        yield
    finally:
        _borrowing = False


def skipped(what: str, reason: str) -> None:
    """Print that `what` (a figure, or a part of the benchmark) is not measured here, and why."""
    print(SKIP_PREFIX + json.dumps({"what": what, "reason": reason}, ensure_ascii=False), flush=True)


def parse(output: str, prefix: str = PREFIX) -> list[dict]:
    """The result lines (or, with SKIP_PREFIX, the skip lines) of a script's output, in order."""
    return [json.loads(line[len(prefix) :]) for line in output.splitlines() if line.startswith(prefix)]
