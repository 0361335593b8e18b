"""Parley: a self-hosted real-time team chat."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from flask.templating import _default_template_ctx_processor as flask_default_context
from quart import Quart

from chat_app import config
from chat_app.actions.outgoing import cancel_calls
from chat_app.actions.presence import SocketLedger
from chat_app.actions.previews import init_previews
from chat_app.actions.reactions import QUICK_REACTIONS
from chat_app.auth import make_auth
from chat_app.bearer import init_bearer
from chat_app.bodies import upload_request_class
from chat_app.db import DatabaseNotReady, close_database, open_database, require_current_schema
from chat_app.errors import init_errors
from chat_app.highlight import TEMPLATE_FILTERS
from chat_app.housekeeping import housekeep_forever
from chat_app.openapi import init_openapi
from chat_app.push import init_push
from chat_app.ratelimits import limits_from
from chat_app.realtime.broker import Broker, broker_from_url
from chat_app.realtime.hub import Hub
from chat_app.realtime.streams import dom_id
from chat_app.realtime.websocket import OneTaskWebsocketConnection, PromptWebsocket
from chat_app.security import CSRF_COOKIE, init_security
from chat_app.storage import storage_from_config, storage_of
from chat_app.templating import init_templating

ROOT = Path(__file__).resolve().parent.parent


# quart-auth warns on every login over plain http; behind a TLS proxy that is every login.
warnings.filterwarnings("ignore", "Secure cookies will be ignored", UserWarning)


def create_app(overrides: Mapping[str, Any] | None = None) -> Quart:
    """Build the application: settings, database, auth, blueprints and the realtime hub."""
    app = Quart(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.websocket_class = PromptWebsocket
    app.asgi_websocket_class = OneTaskWebsocketConnection
    settings = config.load(overrides=overrides)
    app.config.update(settings)
    app.request_class = upload_request_class(app.config)
    app.config.update(
        SESSION_COOKIE_NAME=CSRF_COOKIE,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["COOKIE_SECURE"],
        PERMANENT_SESSION_LIFETIME=timedelta(days=settings["SESSION_DAYS"]),
        SEND_FILE_MAX_AGE_DEFAULT=timedelta(hours=1),
    )
    make_auth(settings["COOKIE_SECURE"], settings["SESSION_DAYS"]).init_app(app)
    init_bearer(app)  # before init_security: the CSRF check looks at the request's token
    init_security(app)
    init_errors(app)
    init_openapi(app)
    app.jinja_env.globals["dom_id"] = dom_id
    app.jinja_env.globals["quick_reactions"] = QUICK_REACTIONS
    app.jinja_env.filters.update(TEMPLATE_FILTERS)
    init_templating(app)

    hub = Hub(app)
    broker: Broker = broker_from_url(
        settings["BROKER_URL"],
        database_url=settings["DATABASE_URL"],
        channel=settings["BROKER_CHANNEL"],
    )
    app.extensions["hub"] = hub
    app.extensions["socket_ledger"] = SocketLedger()
    app.extensions["broker"] = broker
    limits = limits_from(
        settings["LIMITS_URL"],
        settings["BROKER_URL"],
        settings["DATABASE_URL"],
        settings["BROKER_CHANNEL"],
    )
    app.extensions["limits"] = limits
    app.extensions["storage"] = storage_from_config(settings)
    init_push(app)
    init_previews(app)

    @app.before_serving
    async def start() -> None:
        await open_database(settings["DATABASE_URL"])
        try:
            await require_current_schema(settings["DATABASE_URL"])
        except DatabaseNotReady:
            await close_database()
            raise
        try:
            await broker.start(hub.deliver, hub.resync)
        except RuntimeError:
            await close_database()
            raise
        app.extensions["housekeeping"] = asyncio.create_task(housekeep_forever(app))

    @app.after_serving
    async def stop() -> None:
        hub.close_all()
        app.extensions["housekeeping"].cancel()
        await cancel_calls(app)
        await broker.stop()
        await limits.close()
        await storage_of(app).close()
        await close_database()

    from chat_app.blueprints import register_blueprints
    from chat_app.cli import init_cli

    register_blueprints(app)
    init_cli(app)
    _inline_context_processors(app)
    return app


def _inline_context_processors(app: Quart) -> None:
    """Call template context processors in the event loop instead of a worker thread.

    Quart runs a plain-function processor through its thread pool (``ensure_async``), and every
    render in a blueprint had two: quart-auth's (``current_user``) and the one each blueprint
    inherits from Flask's scaffold, which finds no Flask context under Quart and adds nothing.
    Two thread hops per rendered page or pushed fragment, for a dict lookup. Flask's is
    dropped; the others only read request-local state and are called inline.
    """
    processors = app.template_context_processors
    for name, functions in processors.items():
        processors[name] = [_inline(f) for f in functions if f is not flask_default_context]


def _inline(processor: Callable[[], Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """``processor`` as a coroutine function (calling it right away when it is a plain one)."""
    if inspect.iscoroutinefunction(processor):
        return cast(Callable[[], Awaitable[dict[str, Any]]], processor)

    async def call() -> dict[str, Any]:
        return cast(dict[str, Any], processor())

    return call
