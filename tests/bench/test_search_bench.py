"""The search benchmark at a tiny size, so it cannot rot. No timing is asserted: only that
every query reports its row, and (checked inside the bench) that no result came from a room
the viewer is not in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.search import EXTRA, QUERIES
from tests.conftest import DATABASE

BENCH = [sys.executable, "-m", "bench.search"]


def test_search_bench_runs_every_query(tmp_path: Path) -> None:
    out = tmp_path / "search.json"
    run = subprocess.run(
        [*BENCH, "--messages", "800", "--repeat", "2", "--database", DATABASE, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    [report] = json.loads(out.read_text())["reports"]
    assert [q["query"] for q in report["queries"]] == (
        [name for name, _ in QUERIES]
        + [f"{name}, filtered" for name, _ in QUERIES]
        + [name for name, _ in EXTRA]
    )
    assert report["messages"] == 800 and report["index_bytes"] > 0
    assert report["post_with_index_ms"] > 0 and report["post_without_index_ms"] > 0
    assert "| one word | `roadmap` |" in run.stdout
