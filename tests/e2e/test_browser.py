"""Two people chat in a real Chromium against the real server."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import Server
from tests.e2e.conftest import ARTIFACTS, send, signed_up

pytestmark = pytest.mark.browser


async def test_two_people_chat_both_ways(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server.base, "alice", viewport={"width": 1280, "height": 800})
    bob = await signed_up(browser, server.base, "bob", viewport={"width": 390, "height": 844})
    await expect(alice.page.locator("#messages")).to_be_attached()

    await send(alice.page, "Hello Bob <img src=x onerror=alert(1)>")
    theirs = bob.page.locator("#messages .chat-start .chat-bubble")
    await expect(theirs).to_have_text(["Hello Bob <img src=x onerror=alert(1)>"])
    mine = alice.page.locator("#messages .chat-end .chat-bubble")
    await expect(mine).to_have_text(["Hello Bob <img src=x onerror=alert(1)>"])
    composer = alice.page.get_by_role("textbox", name="Message")
    await expect(composer).to_have_value("")  # cleared by the server's fresh composer

    await send(bob.page, "Hi Alice\nsecond line")
    await expect(alice.page.locator("#messages .chat-start .chat-bubble")).to_have_text(
        ["Hi Alice\nsecond line"]
    )
    await expect(alice.page.locator("#messages img")).to_have_count(0)
    await expect(bob.page.locator("#messages .chat")).to_have_count(2)  # each shown once

    ARTIFACTS.mkdir(exist_ok=True)
    await alice.page.screenshot(path=ARTIFACTS / "chat-desktop.png")
    await bob.page.screenshot(path=ARTIFACTS / "chat-phone.png")
    for person in (alice, bob):
        assert person.errors == [], person.errors
        assert person.foreign == []


async def test_empty_message_is_not_sent(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server.base, "carol")
    await send(alice.page, "   ")
    await expect(alice.page.locator("#composer-error")).to_have_text(
        "Write something before sending."
    )
    await expect(alice.page.locator("#messages .chat")).to_have_count(0)


async def test_typing_presence_and_connection_status(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    await expect(alice.page.locator("#connection-status")).to_have_text("Connected")
    bob_entry = alice.page.locator("#people li", has_text="bob")
    await expect(bob_entry).to_have_attribute("data-online", "true")

    await bob.page.get_by_role("textbox", name="Message").press_sequentially("hel")
    await expect(alice.page.locator("#typing")).to_have_text("bob is typing…")
    await expect(bob.page.locator("#typing")).to_have_text("")  # not their own
    await bob.page.get_by_role("textbox", name="Message").press("Enter")
    await expect(alice.page.locator("#typing")).to_have_text("")
    await expect(alice.page.locator("#messages .chat-bubble")).to_have_text(["hel"])

    await bob.page.context.close()  # the last tab closes: offline at once
    await expect(bob_entry).to_have_attribute("data-online", "false")
    await expect(bob_entry).to_contain_text("last seen")
    assert alice.errors == [], alice.errors
