"""One blueprint per surface."""

from __future__ import annotations

from quart import Quart

from chat_app.blueprints import (
    admin,
    admin_bots,
    api,
    api_v1,
    auth,
    directory,
    directs,
    edits,
    health,
    live,
    mentions,
    messages,
    notifications,
    reactions,
    room_settings,
    rooms,
    tokens,
    webhooks,
)


def register_blueprints(app: Quart) -> None:
    """Attach every surface to ``app``."""
    surfaces = (auth, directory, room_settings, directs, rooms, messages, edits, reactions, live)
    apis = (api, api_v1, webhooks, tokens)
    for module in (*surfaces, *apis, health, admin, admin_bots, notifications, mentions):
        app.register_blueprint(module.blueprint)
