"""The benchmark table (`make bench`): every benchmark joins it, the runner reads what each one
prints (figures, and parts skipped with their reason), and the README holds one table of them all.
The benchmarks themselves are measurements, not tests: these check only the wiring, in seconds."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from bench import run_all
from bench.table import PREFIX, SKIP_PREFIX, borrowed, parse, result, skipped

BENCH = run_all.ROOT / "bench"
SCRIPTS = sorted(BENCH.glob("bench_*.py"))


def test_every_benchmark_joins_the_table_with_a_quick_run_its_parser_knows():
    assert len(SCRIPTS) >= 18  # the glob finds them
    missing = [s.name for s in SCRIPTS if run_all.table_args(s) is None]
    assert not missing, f"no TABLE_ARGS (not in `make bench`'s table): {missing}"
    for script in SCRIPTS:
        declared = {
            arg.value
            for node in ast.walk(ast.parse(script.read_text(encoding="utf-8")))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"
            for arg in node.args
            if isinstance(arg, ast.Constant)
        }
        flags = [a for a in run_all.table_args(script) or [] if a.startswith("--")]
        unknown = [f for f in flags if f not in declared]
        assert not unknown, f"{script.name}: TABLE_ARGS name flags its parser does not declare: {unknown}"


def test_every_benchmark_prints_its_figures_through_result():
    for script in SCRIPTS:
        tree = ast.parse(script.read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "bench.table"
            for alias in node.names
        }
        calls = {
            node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "result" in imported and "result" in calls, f"{script.name} prints no figure with bench.table.result"


def test_result_and_skip_lines_round_trip(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/somewhere/bench/bench_x.py", "--n", "5"])
    result("سرعت: files «x»", 12.5, "files/s", goal=">= 10", digits=1, note="n=5")
    with borrowed():
        result("another benchmark's phase", 1.0, "s")
    skipped("the hosts", "needs network namespaces: network namespaces need root")
    out = capsys.readouterr().out
    assert out.count(PREFIX) == 1 and out.count(SKIP_PREFIX) == 1
    (row,) = parse(out)
    assert row == {
        "figure": "سرعت: files «x»",
        "value": 12.5,
        "unit": "files/s",
        "goal": ">= 10",
        "digits": 1,
        "note": "n=5",
        "command": "bench/bench_x.py --n 5",
    }
    assert parse(out, SKIP_PREFIX) == [
        {"what": "the hosts", "reason": "needs network namespaces: network namespaces need root"}
    ]
    result("after the borrowed phase", 2.0, "s")
    assert parse(capsys.readouterr().out)[0]["figure"] == "after the borrowed phase"


def fake_benchmark(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bench_fake.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(run_all.ROOT)!r})\nfrom bench.table import *\n{body}\n")
    return script


def test_the_runner_reads_figures_and_skips_and_names_a_failure(tmp_path, capsys):
    script = fake_benchmark(
        tmp_path,
        'result("a figure", 3.0, "ms", goal="< 5 ms")\n'
        'skipped("the netns part", "needs network namespaces: network namespaces need root")',
    )
    results, skips, trouble = run_all.run_one(script, ["--quick"])
    assert trouble == ""
    assert [(r["figure"], r["value"], r["command"]) for r in results] == [
        ("a figure", 3.0, "bench/bench_fake.py --quick")
    ]
    assert skips == [{"what": "the netns part", "reason": "needs network namespaces: network namespaces need root"}]

    broken = fake_benchmark(tmp_path, 'result("half", 1.0, "s")\nraise SystemExit("the sandbox did not start")')
    results, skips, trouble = run_all.run_one(broken, [])
    assert [r["figure"] for r in results] == ["half"] and skips == []
    assert trouble.startswith("exit 1") and "the sandbox did not start" in trouble


def row(figure: str, value: float, goal: str = "", note: str = "") -> dict:
    return {
        "figure": figure,
        "value": value,
        "unit": "s",
        "goal": goal,
        "digits": 1,
        "note": note,
        "command": "bench/b.py",
    }


def test_the_table_shows_medians_no_goal_and_what_was_skipped():
    rows = run_all.median_rows([[row("a", 1.0), row("b", 9.0, ">= 5")], [row("a", 3.0)], [row("a", 2.0, note="n")]])
    assert [(r["figure"], r["value"], r["runs"]) for r in rows] == [("a", 2.0, 3), ("b", 9.0, 1)]
    block = run_all.render(rows, "Measured today.", ["`bench_scale.py` (the hosts): needs root"])
    lines = block.splitlines()
    assert lines[0] == "Measured today."
    assert "| a | no goal | **2.0 s (median of 3)** | `.venv/bin/python bench/b.py` |" in lines
    assert "| b | >= 5 | **9.0 s** | `.venv/bin/python bench/b.py` |" in lines
    assert lines[-1] == "Not measured in this run: `bench_scale.py` (the hosts): needs root."


def test_the_table_replaces_only_its_block_in_the_readme(tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{run_all.BEGIN}\nold table\n{run_all.END}\n\nafter, سلام\n")
    monkeypatch.setattr(run_all, "README", readme)
    run_all.write_readme("new table")
    assert readme.read_text() == f"# Title\n\nbefore\n\n{run_all.BEGIN}\nnew table\n{run_all.END}\n\nafter, سلام\n"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match=r"no .* block"):
        run_all.write_readme("new table")


def test_the_readme_has_one_table_and_every_benchmark_is_in_it_or_named_as_skipped():
    text = (run_all.ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(run_all.BEGIN) == 1 and text.count(run_all.END) == 1
    block = text[text.index(run_all.BEGIN) : text.index(run_all.END)]
    rest_of_section = text[text.index(run_all.END) :].split("\n## ")[0]
    assert not [line for line in rest_of_section.splitlines() if line.startswith("|")], "a second table of figures"
    absent = [s.name for s in SCRIPTS if f"bench/{s.name}" not in block and f"`{s.name}`" not in block]
    assert not absent, f"not in the README's table (run `make bench`): {absent}"
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| figure")]
    assert rows and all(line.split(" | ")[1].strip() for line in rows), "a row with an empty goal cell"
