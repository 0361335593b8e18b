"""One blueprint per surface."""

from __future__ import annotations

from quart import Quart

from chat_app.blueprints import (
    admin,
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
)


def register_blueprints(app: Quart) -> None:
    """Attach every surface to ``app``."""
    surfaces = (auth, directory, room_settings, directs, rooms, messages, edits, reactions, live)
    for module in (*surfaces, api, api_v1, tokens, health, admin, notifications, mentions):
        app.register_blueprint(module.blueprint)
