"""One blueprint per surface."""

from __future__ import annotations

from quart import Quart

from chat_app.blueprints import (
    admin,
    api,
    auth,
    directory,
    directs,
    edits,
    files,
    health,
    live,
    mentions,
    messages,
    notifications,
    profile,
    reactions,
    room_settings,
    rooms,
)


def register_blueprints(app: Quart) -> None:
    """Attach every surface to ``app``."""
    surfaces = (auth, directory, room_settings, directs, rooms, messages, edits, reactions, live)
    for module in (*surfaces, files, profile, api, health, admin, notifications, mentions):
        app.register_blueprint(module.blueprint)
