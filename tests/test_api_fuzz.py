"""schemathesis fuzzes every /api/v1/ operation of a real server process with a token: no
5xx, and every answer (status, headers, body) matches the OpenAPI document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import Server, serving, sign_up

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES_PER_OPERATION = 30


def _make_token(server: Server, username: str) -> str:
    """A read-write token made with the ``create-token`` task, as an operator would."""
    made = subprocess.run(
        [
            *(sys.executable, "-m", "chat_app", "create-token", username),
            *("--name", "fuzz", "--scope", "read-write"),
        ],
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return made.stdout.strip().splitlines()[-1]


async def test_schemathesis_finds_nothing(database_url: str, tmp_path: Path) -> None:
    limits = {
        "CHAT_MESSAGES_PER_SECOND": "1000",
        "CHAT_MESSAGES_BURST": "1000",
        "CHAT_API_REQUESTS_PER_SECOND": "1000",
        "CHAT_API_REQUESTS_BURST": "1000",
    }
    with serving(database_url, tmp_path / "server.log", limits) as server:
        await sign_up(server.base, "alice")
        token = _make_token(server, "alice")
        run = subprocess.run(
            [
                *(str(SCHEMATHESIS), "--config-file", str(CONFIG), "run"),
                f"{server.base}/api/v1/openapi.json",
                *("--header", f"Authorization: Bearer {token}", "--checks", "all"),
                *("--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "1"),
                *("--phases", "examples,coverage,fuzzing", "--no-color"),
            ],
            capture_output=True,
            text=True,
            timeout=540,
        )
        assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5000:]
        assert "15/15" in run.stdout  # every operation was selected and tested
