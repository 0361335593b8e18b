"""Requests this server makes to URLs that users chose (outgoing webhooks), behind the server
side request forgery guard that Web Push has: public https URLs only, resolved to public
addresses only. ``guarded_session`` is the one place that makes such a client."""

from __future__ import annotations

import aiohttp
from aiohttp import ThreadedResolver
from quart import current_app

from chat_app.push import PublicResolver, endpoint_problem


def allow_private() -> bool:
    """Whether private addresses and plain http are allowed (only for tests' local receivers:
    ``CHAT_OUTGOING_ALLOW_PRIVATE``)."""
    return bool(current_app.config["OUTGOING_ALLOW_PRIVATE"])


def outgoing_url_problem(url: str) -> str | None:
    """Why the server must not call ``url``, or None when it may."""
    if endpoint_problem(url, allow_private()) is not None:
        return "The URL must be a public https:// address (no IP addresses or local names)."
    return None


def guarded_session(timeout: float) -> aiohttp.ClientSession:
    """An HTTP client that reaches only public addresses (unless ``allow_private``), gives
    up after ``timeout`` seconds, and never uses a proxy from the environment."""
    resolver = ThreadedResolver() if allow_private() else PublicResolver()
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=resolver, limit=0),
        timeout=aiohttp.ClientTimeout(total=timeout),
        trust_env=False,
    )
