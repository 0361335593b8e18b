"""A long room keeps a bounded window of messages in the page (CHAT_DOM_WINDOW): the oldest
leave while you read at the bottom and come back, as they are now, when you scroll up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, Request, expect

from chat_app.models import Message, Room, User
from tests.conftest import Server, fill_room, serving
from tests.e2e.conftest import send, signed_up

pytestmark = pytest.mark.browser
WINDOW = 60


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    env = {
        "CHAT_DOM_WINDOW": str(WINDOW),
        "CHAT_MESSAGES_PER_SECOND": "1000",
        "CHAT_MESSAGES_BURST": "1000",
    }
    with serving(database_url, tmp_path / "server.log", env) as running:
        yield running


def shown(page: Page) -> object:
    return page.locator("#older-messages > .chat, #messages > .chat")


async def change(page: Page, path: str, fields: str) -> None:
    """POST a change from ``page`` as its htmx forms do (the page's CSRF token as a header)."""
    status = await page.evaluate(
        """([path, body]) => fetch(path, {method: 'POST', body, headers: {
             'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded',
             'X-CSRF-Token': JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']}})
           .then(r => r.status)""",
        [path, fields],
    )
    assert status in (200, 204), status


async def test_the_oldest_leave_and_come_back_current(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    general = await Room.get(slug="general")
    ids = await fill_room(general, await User.get(username="bob"), 50, prefix="early")
    page = alice.page
    await page.reload()
    await expect(page.locator("#connection-status")).to_have_text("Connected")
    reports: list[Request] = []
    page.on("request", lambda r: reports.append(r) if "/client-errors" in r.url else None)
    await expect(shown(page)).to_have_count(50)
    scroller = page.locator("#message-scroller")

    for n in range(15):  # read at the bottom while new ones arrive
        # At the bottom, past the unread divider, before each: a late change of the page's
        # layout (under load, once) left the reader above the bottom, where nothing is trimmed.
        await scroller.evaluate("s => { s.scrollTop = s.scrollHeight; }")
        await send(bob.page, f"new {n}")
        await expect(page.locator("#messages > .chat").last).to_contain_text(f"new {n}")
    await expect(shown(page)).to_have_count(WINDOW)
    await expect(page.locator(f"#message-{ids[4]}")).to_have_count(0)
    await expect(page.locator(f"#message-{ids[5]}")).to_have_count(1)
    trigger = page.locator("#older-trigger")
    await expect(trigger).to_have_attribute("hx-get", f"/rooms/general/older?before={ids[5]}")
    at_bottom = await page.locator("#message-scroller").evaluate(
        "s => s.scrollHeight - s.scrollTop - s.clientHeight"
    )
    assert at_bottom < 80

    # Changes to messages that left: nothing to swap, nothing breaks, nothing is reported.
    await change(bob.page, f"/messages/{ids[0]}/edit", "content=early+0%2C+edited")
    await change(bob.page, f"/messages/{ids[1]}/delete", "")
    await change(bob.page, f"/messages/{ids[2]}/reactions", "emoji=%F0%9F%8E%89")
    await send(bob.page, "after the changes")
    await expect(page.locator("#messages > .chat").last).to_contain_text("after the changes")
    assert await Message.filter(id=ids[1]).count() == 0

    # Scrolling up brings them back from the server, as they are now, without a jump.
    await scroller.evaluate("s => { s.scrollTop = 0; }")
    first_kept = page.locator(f"#message-{ids[5]}")
    await expect(page.locator(f"#message-{ids[0]}")).to_contain_text("early 0, edited")
    await expect(page.locator(f"#message-{ids[0]}")).to_contain_text("(edited)")
    await expect(page.locator(f"#message-{ids[1]}")).to_have_count(0)
    await expect(page.locator(f"#message-{ids[2]} .reaction")).to_have_text(["🎉 1"])
    top = await first_kept.evaluate(
        """el => el.getBoundingClientRect().top
                - el.closest('#message-scroller').getBoundingClientRect().top"""
    )
    # Where it was, give or take the trigger that made way (not pushed down by the page).
    assert abs(top) < 100, top
    assert reports == []
    assert [e for e in alice.errors if "htmx" in e] == []
