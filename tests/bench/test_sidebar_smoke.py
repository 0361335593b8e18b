"""The sidebar scenario (8) at tiny sizes, so it cannot rot: it runs, reports its rows, and
every member socket got the big room's entry after every post. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DATABASE


def test_sidebar_scenario_reaches_every_member_socket(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "bench", "--smoke", "--scenarios", "sidebar"]
    command += ["--no-reference", "--database", DATABASE, "--processes", "2", "--json", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())
    assert [row["scenario"] for row in report["rows"]] == ["8 sidebar", "8 sidebar"]
    result = report["details"]["sidebar_ours"]
    assert result["failed_handshakes"] == 0 and result["missing"] == 0
    assert result["deliveries"] == result["member_sockets"] * result["posts"] > 0
