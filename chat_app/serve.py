"""Serving with Hypercorn from code, so shutdown closes sockets with 1012 before anything else.

One worker serves in this process. Several workers are processes of their own that share the
listening sockets, each with its own app, hub and broker subscription: a shared broker is
then required, since the in-process one would split every room between the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import signal
import sys
from collections.abc import Callable, Mapping
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app
from quart import Quart

from chat_app import config as settings_module
from chat_app import create_app, lean_hypercorn
from chat_app.access_log import AccessLogger
from chat_app.db import check_database
from chat_app.logs import configure_logging
from chat_app.realtime.broker import is_in_process
from chat_app.realtime.hub import Hub

log = logging.getLogger(__name__)
GC_THRESHOLDS = (10_000, 10, 10)  # CPython's default: (700, 10, 10); see tune_garbage_collector


def hypercorn_config(
    settings: Mapping[str, Any], host: str, port: int, toml: Path | None = None
) -> Config:
    """Hypercorn settings: ``hypercorn.toml`` if given, our frame limit, the address, and
    the access log's lazy logger."""
    config = Config.from_toml(str(toml)) if toml and toml.exists() else Config()
    config.logger_class = AccessLogger
    config.bind = [f"{host}:{port}"]
    config.websocket_max_message_size = settings["WS_MAX_FRAME_BYTES"]
    return config


def check_workers(workers: int, broker_url: str) -> None:
    """Refuse several workers with the in-process broker: each would see only its own sockets."""
    if workers > 1 and is_in_process(broker_url):
        raise RuntimeError(
            f"{workers} workers cannot share rooms through the in-process broker "
            f"(CHAT_BROKER_URL={broker_url}): each worker would only reach its own sockets. "
            "Set CHAT_BROKER_URL=postgres (LISTEN/NOTIFY on the database) or redis://host:6379, "
            "or serve with --workers 1."
        )


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


async def serve(app: Quart, config: Config, sockets: Sockets | None = None) -> None:
    """Serve ``app`` until SIGTERM/SIGINT; sockets get 1012 so their tabs reconnect at once."""
    lean_hypercorn.install()
    await worker_serve(
        wrap_app(app, config.wsgi_max_body_size, None),
        config,
        sockets=sockets,
        shutdown_trigger=lambda: _shutdown_trigger(app, float(config.graceful_timeout)),
    )


def tune_garbage_collector() -> None:
    """Make CPython's stop-the-world collections rare in a process that holds thousands of
    sockets. Every full collection walks every object: with 10,000 sockets it stopped the
    server for 3.5 to 4.8 s (measured; CPython 3.13 has no incremental collector), and most
    found nothing to free, since a socket's objects are freed by reference counting when it
    closes. What exists at start-up (modules, templates, the app) is frozen out of every
    collection; the youngest generation is collected after 10,000 allocations instead of 700,
    so the older ones, and the full walk, come ~14 times less often (50,000 made the young
    collections themselves take up to 0.4 s)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve_worker(config: Config, sockets: Sockets | None = None) -> int:
    """Build the app and serve it in this process; 1 with a plain message if it cannot start."""
    configure_logging()
    try:
        app = create_app()
        # Checked before serving, so a refusal is one plain line instead of a startup traceback.
        loop_factory = _loop_factory(config.worker_class)
        asyncio.run(check_database(app.config["DATABASE_URL"]), loop_factory=loop_factory)
        tune_garbage_collector()
        asyncio.run(serve(app, config, sockets), loop_factory=loop_factory)
    except RuntimeError as error:  # e.g. schema behind or broker unreachable: say so plainly
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _loop_factory(worker_class: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop for `worker_class = "uvloop"`, as Hypercorn's own CLI does; else asyncio's."""
    if worker_class != "uvloop":
        return None
    import uvloop  # an optional speed-up, imported only when configured

    return uvloop.new_event_loop


def _worker_process(config: Config, sockets: Sockets) -> None:
    sys.exit(serve_worker(config, sockets))


def run(host: str, port: int, toml: Path | None, workers: int | None) -> int:
    """Serve with ``workers`` processes (default: hypercorn.toml's); the exit status."""
    settings = settings_module.load()
    config = hypercorn_config(settings, host, port, toml)
    if workers is not None:
        config.workers = workers
    try:
        check_workers(config.workers, settings["BROKER_URL"])
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.workers <= 1:
        return serve_worker(config)
    return _supervise(config)


def _supervise(config: Config) -> int:
    """Run the workers; on SIGTERM/SIGINT each closes its sockets with 1012 and exits.

    A worker that dies takes the others down and the exit status says so, as with Hypercorn's
    own CLI: the service manager restarts the whole server.
    """
    configure_logging()
    sockets = config.create_sockets()
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited loop
    workers = [
        context.Process(target=_worker_process, args=(config, sockets), name=f"worker-{n}")
        for n in range(config.workers)
    ]
    for worker in workers:
        worker.start()
    log.info("serving %s with %d workers", config.bind, len(workers))

    stopping = False

    def stop_workers(_signum: int = 0, _frame: object = None) -> None:
        # Once only: a second SIGTERM would kill a worker that is busy closing its sockets.
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: the worker closes its sockets with 1012

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop_workers)
    wait([worker.sentinel for worker in workers])
    stop_workers()  # the first exit, a crash or our own signal, ends them all
    for worker in workers:
        worker.join()
    for sock in sockets.insecure_sockets + sockets.secure_sockets:
        sock.close()
    return max((abs(worker.exitcode or 0) for worker in workers), default=0)
