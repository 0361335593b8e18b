"""The benchmark harness at tiny sizes, so it cannot rot. No timing is asserted: only that every
scenario runs, reports its rows, and that no client lost or got twice any message. The default
scenarios run, and in the same run the restart and the curve (one size), which otherwise run
only when named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.scenarios import DEFAULT_SCENARIOS
from tests.conftest import DATABASE


def test_smoke_run_reports_every_scenario_without_loss(tmp_path: Path) -> None:
    out, png = tmp_path / "bench.json", tmp_path / "curve.png"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--smoke",
            "--scenarios",
            ",".join([*DEFAULT_SCENARIOS, "restart", "curve"]),
            "--curve-png",
            str(png),
            "--database",
            DATABASE,
            "--processes",
            "2",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(out.read_text())

    scenarios = {row["scenario"].split()[0] for row in report["rows"]}
    assert scenarios == {"1", "2", "3", "4", "5", "6", "9"}
    assert "| scenario | figure | ours | reference |" in report["table"]
    for row in report["rows"]:
        if row["scenario"].startswith("6") and DATABASE != "postgres":
            assert "needs --database postgres" in row["note"]
            continue  # several workers share rooms through PostgreSQL
        assert row["ours"] is not None and row["ours"] >= 0, row

    details = report["details"]
    if DATABASE == "postgres":
        for step in details["workers_2-workers"] + details["workers_1-worker"]:
            assert step["deliveries"] > 0
            assert (step["missing"], step["duplicated"], step["closed"]) == (0, 0, 0), step
    for server in ("ours", "reference"):
        steps = details[f"fanout_{server}"] + [
            details[f"crowd_{server}"],
            details[f"latency_{server}"],
        ]
        for step in steps:
            assert step["deliveries"] > 0
            assert (step["missing"], step["duplicated"], step["closed"]) == (0, 0, 0), step
        storm = details[f"storm_{server}"]
        assert (storm["missing"], storm["duplicated"], storm["reconnect_failed"]) == (0, 0, 0)
        for size in details["curve"]:
            for step in details[f"curve_{size}_fanout_{server}"] + [
                details[f"curve_{size}_crowd_{server}"]
            ]:
                assert step["deliveries"] > 0
                assert (step["missing"], step["duplicated"], step["closed"]) == (0, 0, 0), step
    restart = details["restart_ours"]
    assert (restart["missing"], restart["duplicated"], restart["reconnect_failed"]) == (0, 0, 0)
    assert png.read_bytes().startswith(b"\x89PNG")
