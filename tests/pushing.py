"""A local push service and browsers for the push tests.

The service is a real HTTP server on a free port: it receives each push's bytes and headers and
answers with the status a test chose for that endpoint. A ``Browser`` holds a subscription's
private key and auth secret (made here, as a browser would) and decrypts what arrived.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import http_ece
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from quart import Quart

from chat_app.push import Pusher, b64url, generate_vapid_keys, install_pusher

VAPID_SUBJECT = "mailto:ops@parley.test"


@dataclass
class Received:
    """One request the push service got."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """Records every request; ``answers[path]`` is the status to give (201 by default)."""

    base: str = ""
    received: list[Received] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    delay: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0

    def endpoint(self, name: str) -> str:
        return f"{self.base}/push/{name}"

    def to(self, name: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/push/{name}"]

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            body = await request.read()
            self.received.append(Received(request.path, dict(request.headers), body))
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.Response(status=self.answers.get(request.path, 201))
        finally:
            self.in_flight -= 1


@dataclass
class Browser:
    """A browser's side of a subscription: its ECDH key pair and auth secret."""

    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    secret: bytes = field(default_factory=lambda: os.urandom(16))

    def subscription(self) -> dict[str, Any]:
        """What ``PushSubscription.toJSON()`` gives the page to post."""
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.secret)},
        }

    def decrypt(self, received: Received) -> dict[str, Any]:
        """The payload of a push, decrypted as the browser does (RFC 8291, aes128gcm)."""
        assert received.headers["Content-Encoding"] == "aes128gcm"
        plain = http_ece.decrypt(
            received.body, private_key=self.key, auth_secret=self.secret, version="aes128gcm"
        )
        payload: dict[str, Any] = json.loads(plain)
        return payload


def vapid_claims(received: Received, public_key: str) -> dict[str, Any]:
    """The claims of a push's VAPID token, after checking it is signed by ``public_key``."""
    scheme, _, rest = received.headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(item.split("=", 1) for item in rest.split(","))
    assert parts["k"] == public_key
    assert Vapid02.verify(received.headers["Authorization"])
    claims_b64 = parts["t"].split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(claims_b64 + "==="))
    return claims


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    """The local push service, listening until the test ends."""
    service = PushService()
    server = web.Application()
    server.router.add_post("/push/{name}", service.handle)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    service.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    await web.SockSite(runner, sock).start()
    try:
        yield service
    finally:
        await runner.cleanup()


@pytest.fixture
async def vapid(app: Quart) -> AsyncIterator[Pusher]:
    """Push turned on (fresh VAPID keys; plain-http endpoints allowed for the local service),
    in an app context; off again afterwards."""
    private, public = generate_vapid_keys()
    settings = {
        "VAPID_PRIVATE_KEY": private,
        "VAPID_PUBLIC_KEY": public,
        "VAPID_SUBJECT": VAPID_SUBJECT,
        "PUSH_ALLOW_HTTP": True,
    }
    saved = {name: app.config[name] for name in (*settings, "PUSH_CONCURRENCY")}
    app.config.update(settings)
    pusher = install_pusher(app)
    assert pusher is not None
    try:
        async with app.app_context():
            yield pusher
    finally:
        await pusher.close()
        app.config.update(saved)
        install_pusher(app)
