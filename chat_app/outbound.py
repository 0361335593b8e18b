"""The one way this server makes requests to URLs that users give it (link previews, later
webhooks), guarded against server-side request forgery.

A URL someone typed must not make us reach inside our own network: loopback, private,
link-local (cloud metadata at 169.254.169.254), shared, multicast and reserved addresses are
refused **after** DNS resolution, and the connection goes to the very address that was checked
(the resolver below hands aiohttp only checked addresses), so a name that changes its answer
between check and connection (DNS rebinding) gains nothing. Redirects are followed by hand, at
most MAX_REDIRECTS, each hop checked again. No cookies, no proxy from the environment, a total
time limit and a byte limit on what is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "Parley-link-preview/1.0"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The request was not made, or not finished: ``str()`` says why (for logs)."""


class AddressRefused(Refused, OSError):
    """The URL's host is, or resolves only to, addresses we never connect to. An OSError too,
    so aiohttp's connector treats it as a failed resolution."""


def networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """Networks from ``"127.0.0.1, 10.0.0.0/8"`` (or a list of such); ValueError if one is not."""
    items = spec.split(",") if isinstance(spec, str) else spec
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def address_refused(address: Address, allowed: Collection[Network] = ()) -> bool:
    """Whether we never connect to ``address``: anything but a global unicast address, unless
    it is inside ``allowed`` (a setting for tests only)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(address in network for network in allowed):
        return False
    return not address.is_global or address.is_multicast or address.is_reserved


class GuardedResolver(ThreadedResolver):
    """Resolves a name to the addresses we may connect to; AddressRefused when none is left."""

    def __init__(self, allowed: Collection[Network] = ()) -> None:
        super().__init__()
        self.allowed = tuple(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host`` that are not refused."""
        found = await super().resolve(host, port, family)
        usable = [
            entry
            for entry in found
            if not address_refused(ipaddress.ip_address(entry["host"]), self.allowed)
        ]
        if not usable:
            raise AddressRefused(f"{host} resolves to no public address")
        return usable


def guarded_session(
    timeout: float, allowed: Collection[Network] = (), *, guard: bool = True
) -> aiohttp.ClientSession:
    """An aiohttp session that connects only to checked addresses (``guard`` False: to any,
    for a test's local server), keeps no cookies and ignores proxy settings."""
    resolver = GuardedResolver(allowed) if guard else ThreadedResolver()
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=resolver, limit=0),
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


@dataclass(frozen=True, slots=True)
class Fetched:
    """A page: where it was found in the end, its media type and charset, and its first
    bytes (at most the client's ``max_bytes``)."""

    url: str
    media_type: str
    charset: str | None
    body: bytes


def _check_url(url: str, allowed: Collection[Network]) -> None:
    """Refused unless ``url`` is http(s), without credentials, to a host that is not an
    address we refuse (names are checked when they are resolved)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise Refused("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("only http and https URLs are fetched")
    if parts.username is not None or parts.password is not None:
        raise Refused("URLs with credentials are not fetched")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    # aiohttp connects to an address literal without asking the resolver: check it here.
    if address_refused(literal, allowed):
        raise AddressRefused(f"{parts.hostname} is not a public address")


class Outbound:
    """Fetches pages for the server: ``timeout`` seconds in all (redirects included), at most
    ``max_bytes`` read, only the media types asked for."""

    def __init__(
        self, *, timeout: float = 5.0, max_bytes: int = 1024 * 1024, allow: str | Iterable[str] = ""
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allowed = networks(allow)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = guarded_session(self.timeout, self.allowed)
        return self._session

    async def get(self, url: str, media_types: Collection[str] = ("text/html",)) -> Fetched:
        """GET ``url``, following at most MAX_REDIRECTS redirects, each checked; Refused for
        a URL or address that is refused, a redirect too many, another status than 200, a
        media type not in ``media_types``, or no answer in time."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url, media_types)
        except TimeoutError:
            raise Refused(f"no answer within {self.timeout:g} s") from None
        except aiohttp.ClientError as error:
            if isinstance(error.__cause__, Refused):
                raise error.__cause__ from None
            raise Refused(f"{type(error).__name__}: {error}") from None

    async def _follow(self, url: str, media_types: Collection[str]) -> Fetched:
        headers = {"User-Agent": USER_AGENT, "Accept": ", ".join(media_types)}
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(url, self.allowed)
            async with self._client().get(url, headers=headers, allow_redirects=False) as answer:
                if answer.status in REDIRECTS and "Location" in answer.headers:
                    url = urljoin(url, answer.headers["Location"])
                    continue
                if answer.status != 200:
                    raise Refused(f"answered {answer.status}")
                if answer.content_type not in media_types:
                    raise Refused(f"{answer.content_type} is not fetched")
                body = bytearray()
                async for chunk in answer.content.iter_chunked(64 * 1024):
                    body += chunk[: self.max_bytes - len(body)]
                    if len(body) >= self.max_bytes:
                        break  # enough: what a preview needs is at the start
                return Fetched(str(answer.url), answer.content_type, answer.charset, bytes(body))
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    async def close(self) -> None:
        """Close its connections."""
        if self._session is not None:
            await self._session.close()
