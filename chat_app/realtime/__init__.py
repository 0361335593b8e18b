"""Domain events, the broker that carries them between nodes, and the hub that fans them out."""

from chat_app.realtime.broker import publish

__all__ = ["publish"]
