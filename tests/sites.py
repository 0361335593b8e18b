"""A local web site for the outbound client and link previews: pages with cards, redirects,
wrong types, big and slow answers. Reachable only through the test-only allow setting."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

CARD = """<!doctype html><html><head>
<meta charset="utf-8"><title>Fallback title</title>
<meta property="og:title" content="The Parley handbook">
<meta property="og:description" content="How we chat, &amp; why.">
<meta property="og:site_name" content="Example Docs">
<meta property="og:image" content="http://169.254.169.254/latest/meta-data/">
</head><body><h1>Hello</h1></body></html>"""

HOSTILE = """<html><head><title>\u202eevil <script>alert(1)</script>\u200b title</title>
<meta name="description" content="<img src=x onerror=alert(1)>"></head></html>"""


@dataclass
class Site:
    """The running site: its base URL, how often each path was asked for, and the cookies
    each request carried."""

    base: str
    hits: Counter[str] = field(default_factory=Counter)
    cookies: list[str] = field(default_factory=list)


@asynccontextmanager
async def local_site() -> AsyncIterator[Site]:
    """Serve the site on 127.0.0.1 at a free port while inside."""
    site = Site("")

    async def page(request: web.Request) -> web.Response:
        site.hits[request.path] += 1
        site.cookies.append(request.headers.get("Cookie", ""))
        body = {"/page": CARD, "/hostile": HOSTILE}.get(request.path, "<title>Plain</title>")
        response = web.Response(text=body, content_type="text/html")
        response.set_cookie("tracking", "1")
        return response

    async def hop(request: web.Request) -> web.Response:
        site.hits[request.path] += 1
        left = int(request.match_info["left"])
        raise web.HTTPFound("/page" if left == 0 else f"/hop/{left - 1}")

    async def to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["url"])

    async def json(request: web.Request) -> web.Response:
        return web.json_response({"title": "not html"})

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<title>Big</title>")
        for _ in range(48):  # 3 MB, more than anyone reads
            await response.write(b"x" * 65536)
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="<title>Slow</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/hop/{left}", hop)
    app.router.add_get("/to", to)
    app.router.add_get("/json", json)
    app.router.add_get("/big", big)
    app.router.add_get("/slow", slow)
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    site.base = f"http://127.0.0.1:{port}"
    try:
        yield site
    finally:
        await runner.cleanup()
