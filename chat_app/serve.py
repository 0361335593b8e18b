"""Serving with Hypercorn from code, so shutdown closes sockets with 1012 before anything else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from quart import Quart

from chat_app.realtime.hub import Hub

log = logging.getLogger(__name__)


def hypercorn_config(app: Quart, host: str, port: int, toml: Path | None = None) -> Config:
    """Hypercorn settings: ``hypercorn.toml`` if given, our frame limit, and the address."""
    config = Config.from_toml(str(toml)) if toml and toml.exists() else Config()
    config.bind = [f"{host}:{port}"]
    config.websocket_max_message_size = app.config["WS_MAX_FRAME_BYTES"]
    config.workers = 1  # serving from code is one process; see the README for several
    return config


async def _shutdown_trigger(app: Quart, grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    hub: Hub = app.extensions["hub"]
    log.info("shutting down: closing %d sockets with 1012", hub.open_sockets())
    hub.close_all()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(hub.drained.wait(), grace)


async def serve(app: Quart, host: str, port: int, toml: Path | None = None) -> None:
    """Serve ``app`` until SIGTERM/SIGINT; sockets get 1012 so their tabs reconnect at once."""
    config = hypercorn_config(app, host, port, toml)
    await hypercorn_serve(
        app,
        config,
        shutdown_trigger=lambda: _shutdown_trigger(app, float(config.graceful_timeout)),
    )
