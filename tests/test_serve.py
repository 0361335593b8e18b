"""``python -m chat_app serve`` refuses what cannot work, and says why."""

from __future__ import annotations

import os
import subprocess
import sys


def serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chat_app", "serve", "--port", "1", *args],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_several_workers_with_the_in_process_broker_are_refused() -> None:
    result = serve("--workers", "2", CHAT_BROKER_URL="memory://")
    assert result.returncode == 2
    assert "2 workers cannot share rooms through the in-process broker" in result.stderr
    assert "CHAT_BROKER_URL=postgres" in result.stderr


def test_the_production_profile_serves_on_uvloop() -> None:
    import uvloop
    from hypercorn.config import Config

    from chat_app import ROOT
    from chat_app.serve import _loop_factory

    profile = Config.from_toml(str(ROOT / "hypercorn.toml"))
    factory = _loop_factory(profile.worker_class)
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()
    assert _loop_factory("asyncio") is None


def test_the_production_profile_queues_a_reconnect_storm_of_connections() -> None:
    """With Hypercorn's default backlog of 100 the kernel dropped some handshakes of a few
    thousand tabs connecting at once."""
    from hypercorn.config import Config

    from chat_app import ROOT

    assert Config.from_toml(str(ROOT / "hypercorn.toml")).backlog >= 1024
