"""One blueprint per surface."""

from __future__ import annotations

from quart import Quart

from chat_app.blueprints import (
    admin,
    api,
    auth,
    client_errors,
    directory,
    directs,
    edits,
    health,
    live,
    mentions,
    messages,
    notifications,
    privacy,
    reactions,
    room_settings,
    rooms,
    search,
)


def register_blueprints(app: Quart) -> None:
    """Attach every surface to ``app``."""
    surfaces = (auth, directory, room_settings, directs, rooms, messages, edits, reactions, live)
    others = (search, api, health, admin, notifications, privacy, mentions, client_errors)
    for module in (*surfaces, *others):
        app.register_blueprint(module.blueprint)
