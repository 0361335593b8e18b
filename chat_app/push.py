"""Web Push transport (RFC 8030): VAPID keys (RFC 8292), endpoint checks, encrypted sends
(RFC 8291, aes128gcm, by pywebpush) over one aiohttp session, a bounded number at a time.

No database here: ``actions.notifications`` decides who gets what; this only delivers.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher
from quart import Quart

from chat_app.background import Tasks
from chat_app.logs import RateLimitedLog
from chat_app.models.notifications import ENDPOINT_MAX
from chat_app.outbound import guarded_session

log = logging.getLogger(__name__)
_failures = RateLimitedLog(30.0)

# Push services answer these for a subscription that is gone for good (RFC 8030 §7.3).
GONE = frozenset({404, 410})
NO_ANSWER = 0  # the status `send` reports when the push service did not answer in time
JWT_SECONDS = 12 * 3600  # how long one VAPID token is valid (push services allow up to 24 h)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as Web Push writes keys."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: (private, public), the private as its raw 32 bytes and the public
    as the uncompressed P-256 point browsers take as ``applicationServerKey``."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(private), b64url(public)


@dataclass(frozen=True, slots=True)
class VapidKeys:
    """The application server's identity towards push services."""

    private: str
    public: str
    subject: str


def vapid_keys(config: Mapping[str, Any]) -> VapidKeys | None:
    """The configured keys, or None when push is off (any of the three missing).

    ValueError when they are set but unusable: a private key that does not parse, a public
    key that is not its pair, a subject that is neither mailto: nor https:.
    """
    private, public, subject = (
        str(config[name]).strip()
        for name in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT")
    )
    if not (private and public and subject):
        return None
    try:
        derived = b64url(
            Vapid02.from_string(private).public_key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )
    except Exception as error:  # py_vapid raises whatever its decoders raise
        raise ValueError("CHAT_VAPID_PRIVATE_KEY is not a VAPID private key.") from error
    if derived != public.rstrip("="):
        raise ValueError("CHAT_VAPID_PUBLIC_KEY is not the pair of CHAT_VAPID_PRIVATE_KEY.")
    if not subject.startswith(("mailto:", "https://")):
        raise ValueError("CHAT_VAPID_SUBJECT must be a mailto: or https: URL.")
    return VapidKeys(private, derived, subject)


def endpoint_problem(endpoint: object, allow_http: bool = False) -> str | None:
    """Why ``endpoint`` cannot be a push endpoint we post to, or None if it can.

    Push services are public HTTPS servers named by DNS. An IP address, a local name or
    credentials in the URL is someone aiming our server at something else.
    """
    if not isinstance(endpoint, str) or not endpoint:
        return "The subscription has no endpoint."
    if len(endpoint) > ENDPOINT_MAX or not endpoint.isascii() or not endpoint.isprintable():
        return "The endpoint is not a push service URL."
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "The endpoint is not a URL."
    if allow_http and parts.scheme == "http" and parts.hostname:
        return None  # the tests' local push service
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme != "https" or not host or "." not in host:
        return "The endpoint must be an https:// URL of a push service."
    if parts.username is not None or parts.password is not None or port not in (None, 443):
        return "The endpoint must be an https:// URL of a push service."
    if _is_ip(host) or host.endswith((".localhost", ".local", ".internal")):
        return "The endpoint must be an https:// URL of a push service."
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Pusher:
    """Sends pushes for one application: at most ``concurrency`` requests at once, each within
    ``timeout`` seconds; background deliveries are tasks it keeps (and cancels on close)."""

    def __init__(self, keys: VapidKeys, config: Mapping[str, Any]) -> None:
        self.keys = keys
        self.timeout = float(config["PUSH_TIMEOUT_SECONDS"])
        self.ttl = int(config["PUSH_TTL_SECONDS"])
        self.max_pending = int(config["PUSH_MAX_PENDING"])
        self.allow_http = bool(config["PUSH_ALLOW_HTTP"])
        self._vapid = Vapid02.from_string(keys.private)
        self._slots = asyncio.Semaphore(int(config["PUSH_CONCURRENCY"]))
        self._session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, tuple[float, dict[str, str]]] = {}
        self._tasks = Tasks(self.max_pending)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run ``work`` in the background (kept until done); None, and ``work`` dropped, when
        PUSH_MAX_PENDING deliveries are waiting already (push services are down or slow)."""
        task = self._tasks.spawn(work)
        if task is None:
            _failures.log(log, "push.dropped", ("pending",), {"pending": len(self._tasks)})
        return task

    async def send(self, subscription: Mapping[str, Any], payload: Mapping[str, Any]) -> int:
        """Encrypt ``payload`` (JSON) for ``subscription`` and post it: the push service's
        status, or NO_ANSWER (0) when it could not be reached in time."""
        endpoint = str(subscription["endpoint"])
        if endpoint_problem(endpoint, self.allow_http) is not None:
            return 404  # stored before a stricter check: as good as gone
        data = json.dumps(payload, ensure_ascii=False).encode()
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._post(subscription, endpoint, data)
            except (TimeoutError, aiohttp.ClientError, OSError) as error:
                host = urlsplit(endpoint).hostname or "-"
                _failures.log(log, "push.unreachable", (host, type(error).__name__), {"host": host})
                return NO_ANSWER

    async def _post(self, subscription: Mapping[str, Any], endpoint: str, data: bytes) -> int:
        body = WebPusher(subscription).encode(data, "aes128gcm")["body"]
        headers = {
            **self._authorization(endpoint),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "TTL": str(self.ttl),
            "Urgency": "normal",
        }
        session = self._client()
        async with session.post(
            endpoint, data=body, headers=headers, allow_redirects=False
        ) as response:
            await response.content.read(4096)  # an answer body means nothing to us
            if response.status >= 300 and response.status not in GONE:
                host = urlsplit(endpoint).hostname or "-"
                fields = {"host": host, "status": response.status}
                _failures.log(log, "push.refused", (host, str(response.status)), fields)
            return response.status

    def _authorization(self, endpoint: str) -> dict[str, str]:
        """The VAPID header for the push service of ``endpoint`` (one signed token per service,
        reused until an hour before it expires)."""
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self._tokens.get(audience)
        if cached is None or cached[0] < now + 3600:
            expires = int(now) + JWT_SECONDS
            claims = {"sub": self.keys.subject, "aud": audience, "exp": expires}
            if len(self._tokens) > 1000:
                self._tokens.clear()
            cached = self._tokens[audience] = (expires, dict(self._vapid.sign(claims)))
        return cached[1]

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Only public addresses, checked after resolution (chat_app/outbound.py).
            self._session = guarded_session(self.timeout, guard=not self.allow_http)
        return self._session

    async def drain(self) -> None:
        """Wait for the background deliveries started so far (tests, shutdown)."""
        await self._tasks.drain()

    async def close(self) -> None:
        """Cancel what is still being delivered and close the connections."""
        await self._tasks.cancel()
        if self._session is not None:
            await self._session.close()


PUSHER = "pusher"


def pusher_of(app: Quart) -> Pusher | None:
    """The application's pusher, or None when push is off (no VAPID keys)."""
    found: Pusher | None = app.extensions.get(PUSHER)
    return found


def install_pusher(app: Quart) -> Pusher | None:
    """Make the pusher from ``app.config`` (None, push off, without keys). Tests call it again
    after changing the config."""
    keys = vapid_keys(app.config)
    app.extensions[PUSHER] = Pusher(keys, app.config) if keys else None
    return pusher_of(app)


def init_push(app: Quart) -> None:
    """Set up push for ``app``; its deliveries are cancelled when it stops serving."""
    install_pusher(app)

    @app.after_serving
    async def stop_pushing() -> None:
        pusher = pusher_of(app)
        if pusher is not None:
            await pusher.close()
