"""``python -m tests.e2e.failing_server serve --port N``: the app as deployed, plus a switch
that makes one route fail on purpose (a status, a delay), for the browser tests of the error
notices. It lives with the tests and is never part of the application.

``GET /_failing?path=/rooms/general/older&status=500&times=1&delay=0`` arms it: the next
``times`` requests to ``path`` wait ``delay`` seconds, then answer ``status`` (0: as usual).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from quart import Quart, Response, abort, request

from chat_app import create_app
from chat_app.logs import configure_logging
from chat_app.serve import hypercorn_config, serve


def create_failing_app() -> Quart:
    """The app, with the switch and the hook that obeys it."""
    app = create_app()
    armed: dict[str, Any] = {"path": None, "status": 0, "times": 0, "delay": 0.0}

    @app.get("/_failing")
    async def arm() -> Response:
        args = request.args
        armed.update(
            path=args["path"],
            status=int(args.get("status", 500)),
            times=int(args.get("times", 1)),
            delay=float(args.get("delay", 0)),
        )
        return Response(status=204)

    @app.before_request
    async def fail() -> None:
        if armed["times"] <= 0 or request.path != armed["path"]:
            return
        armed["times"] -= 1
        await asyncio.sleep(armed["delay"])
        if armed["status"]:
            abort(armed["status"])

    # First: before the CSRF check and everything else, as a broken proxy or server would.
    app.before_request_funcs[None].insert(0, app.before_request_funcs[None].pop())
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    configure_logging()
    app = create_failing_app()
    asyncio.run(serve(app, hypercorn_config(app.config, "127.0.0.1", port)))


if __name__ == "__main__":
    main()
