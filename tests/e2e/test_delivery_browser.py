"""Delivery as a person sees it: the server goes away and comes back, a proxy blocks
WebSockets, the page is reloaded with a message still queued."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, WebSocketRoute, expect
from quart import Quart

from chat_app.models import Message, Room, User
from chat_app.realtime import streams
from tests.conftest import Server, fill_room, free_port
from tests.e2e.conftest import send, signed_up

pytestmark = pytest.mark.browser


async def test_outage_queues_then_delivers_once_with_what_others_said(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    await expect(alice.page.locator("#connection-status")).to_have_text("Connected")

    await asyncio.to_thread(server.stop, signal.SIGTERM)
    await expect(alice.page.locator("#connection-status")).to_contain_text("Reconnecting")
    await send(alice.page, "written while offline")
    pending = alice.page.locator("#pending-messages .chat")
    await expect(pending).to_have_attribute("data-state", "queued")
    await expect(alice.page.get_by_text("messages you send now are queued")).to_be_visible()

    await asyncio.to_thread(server.start)
    await expect(bob.page.locator("#connection-status")).to_have_text("Connected", timeout=40_000)
    await send(bob.page, "said during alice's outage")

    await expect(alice.page.locator("#connection-status")).to_have_text("Connected", timeout=40_000)
    for page in (alice.page, bob.page):  # each message once, on both sides
        for text in ("written while offline", "said during alice's outage"):
            bubble = page.locator("#messages .chat-bubble", has_text=text)
            await expect(bubble).to_have_count(1, timeout=10_000)
    await expect(pending).to_have_count(0)


class UpgradeBlockingProxy:
    """A reverse proxy that passes HTTP but refuses WebSocket upgrades, like some
    corporate proxies do."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()

    async def __aenter__(self) -> UpgradeBlockingProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b"upgrade: websocket" in head.lower():
            writer.write(
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        up_writer.write(head)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def proxy(server: Server) -> AsyncIterator[UpgradeBlockingProxy]:
    async with UpgradeBlockingProxy(server.port) as running:
        yield running


async def test_without_websockets_the_page_polls_and_posts_over_http(
    browser: Browser, server: Server, proxy: UpgradeBlockingProxy
) -> None:
    alice = await signed_up(browser, f"http://127.0.0.1:{proxy.port}", "alice")
    bob = await signed_up(browser, server.base, "bob")  # directly, with a live socket
    status = alice.page.locator("#connection-status")
    await expect(status).to_contain_text("checking every 5 s", timeout=20_000)

    await send(bob.page, "from bob, live")
    await expect(alice.page.locator("#messages .chat-bubble")).to_have_text(
        ["from bob, live"], timeout=10_000
    )
    await send(alice.page, "from alice, by plain post")
    await expect(bob.page.locator("#messages .chat-bubble")).to_have_text(
        ["from bob, live", "from alice, by plain post"]
    )
    await expect(alice.page.locator("#messages .chat-bubble")).to_have_text(
        ["from bob, live", "from alice, by plain post"], timeout=10_000
    )


async def test_a_queued_message_survives_a_reload(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server.base, "alice")
    page: Page = alice.page
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    await asyncio.to_thread(server.stop, signal.SIGTERM)
    await send(page, "keep me")
    await expect(page.locator("#pending-messages .chat")).to_have_attribute("data-state", "queued")
    await asyncio.to_thread(server.start)
    await page.reload()
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    await expect(page.locator("#messages .chat-bubble", has_text="keep me")).to_have_count(1)
    await expect(page.locator("#pending-messages .chat")).to_have_count(0)


async def test_unconfirmed_message_fails_visibly_and_retry_delivers_it(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    page = alice.page
    dropped: list[str] = []

    def relay(route: WebSocketRoute) -> None:
        upstream = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if "lost on the way" in str(message) and not dropped:
                dropped.append(str(message))  # the first attempt never reaches the server
                return
            upstream.send(message)

        route.on_message(to_server)

    await page.route_web_socket("**/live**", relay)
    await page.reload()
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    await send(page, "lost on the way")
    pending = page.locator("#pending-messages .chat")
    await expect(pending).to_have_attribute("data-state", "sending")
    await expect(pending).to_have_attribute("data-state", "failed", timeout=15_000)
    await pending.get_by_role("button", name="Retry").click()
    await expect(page.locator("#messages .chat-bubble")).to_have_text(["lost on the way"])
    await expect(pending).to_have_count(0)
    assert len(dropped) == 1


async def test_a_message_the_server_cannot_store_yet_says_so_and_is_resent_once_it_can(
    browser: Browser, server: Server, app: Quart
) -> None:
    # The relay stands in for a database outage: the first two sends of the message get the
    # server's "not saved yet" answer (the real envelope) instead of reaching it.
    alice = await signed_up(browser, server.base, "alice")
    page = alice.page
    sent: list[dict[str, str]] = []

    def relay(route: WebSocketRoute) -> None:
        upstream = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            data = json.loads(message) if "not yet" in str(message) else None
            if data is not None:
                sent.append(data)
                if len(sent) <= 2:
                    route.send(unsaved[data["client_id"]])
                    return
            upstream.send(message)

        route.on_message(to_server)

    unsaved: dict[str, str] = {}
    await page.route_web_socket("**/live**", relay)
    await page.reload()
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    client_id = await page.locator("#composer [name=client_id]").input_value()
    async with app.app_context():
        unsaved[client_id] = await streams.render_unsaved(client_id)
    await send(page, "not yet, then once")
    pending = page.locator("#pending-messages .chat")
    await expect(pending).to_have_attribute("data-state", "unsaved")
    await expect(pending).to_contain_text("Not saved yet — retrying")
    await expect(page.locator("#messages .chat-bubble")).to_have_text(
        ["not yet, then once"], timeout=15_000
    )
    await expect(pending).to_have_count(0)
    assert [data["client_id"] for data in sent] == [client_id] * 3  # resent with its own id
    assert await Message.filter(client_id=client_id).count() == 1
    assert alice.errors == []


async def test_a_rejected_message_leaves_the_pending_list_for_good(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    page = alice.page

    def relay(route: WebSocketRoute) -> None:
        upstream = route.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if "too long" in str(message):  # past the composer's own length check
                data = json.loads(message)
                message = json.dumps(data | {"content": "x" * 5000})
            upstream.send(message)

        route.on_message(to_server)

    await page.route_web_socket("**/live**", relay)
    await page.reload()
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    await send(page, "too long")
    await expect(page.locator("#composer-error")).to_contain_text("at most 4,000 characters")
    await page.wait_for_timeout(2500)  # the pending list is refreshed every second
    await expect(page.locator("#pending-messages .chat")).to_have_count(0)


async def test_scrolling_up_loads_older_pages_and_jump_to_newest(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    general, user = await Room.get(slug="general"), await User.get(username="bob")
    await fill_room(general, user, 120, prefix="history")
    page = alice.page
    await page.reload()
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    bubbles = page.locator("#message-scroller .chat-bubble")
    await expect(bubbles).to_have_count(50)

    anchor = page.locator("#messages .chat-bubble").first  # "history 70"
    await page.locator("#message-scroller").evaluate("el => { el.scrollTop = 0; }")
    await expect(bubbles).to_have_count(100)
    await expect(anchor).to_be_in_viewport()  # the view did not jump to the new top
    await expect(page.locator("#older-messages .chat-bubble").first).to_have_text("history 20")

    await send(bob.page, "while alice reads old messages")
    jump = page.get_by_role("button", name="Jump to newest ↓")
    await expect(jump).to_be_visible()
    await jump.click()
    await expect(page.get_by_text("while alice reads old messages")).to_be_in_viewport()
    await expect(jump).to_be_hidden()
