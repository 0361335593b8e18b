"""One blueprint per surface."""

from __future__ import annotations

from quart import Quart

from chat_app.blueprints import (
    api,
    auth,
    edits,
    health,
    live,
    messages,
    notifications,
    reactions,
    rooms,
)


def register_blueprints(app: Quart) -> None:
    """Attach every surface to ``app``."""
    for module in (auth, rooms, messages, edits, reactions, live, api, health, notifications):
        app.register_blueprint(module.blueprint)
