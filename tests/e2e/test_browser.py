"""Two people chat in a real Chromium against the real server."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from chat_app.models import Room, User
from tests.conftest import PASSWORD, Server, fill_room, sign_up
from tests.e2e.conftest import ARTIFACTS, send, signed_up

pytestmark = pytest.mark.browser


async def test_two_people_chat_both_ways(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server.base, "alice", viewport={"width": 1280, "height": 800})
    bob = await signed_up(browser, server.base, "bob", viewport={"width": 390, "height": 844})
    await expect(alice.page.locator("#messages")).to_be_attached()

    hostile = 'Hello Bob <img src=x onerror=alert(1)> <b hx-get="/logout" hx-trigger="load">x</b>'
    await send(alice.page, hostile)
    theirs = bob.page.locator("#messages .chat-start .chat-bubble")
    await expect(theirs).to_have_text([hostile])
    mine = alice.page.locator("#messages .chat-end .chat-bubble")
    await expect(mine).to_have_text([hostile])
    await expect(bob.page.locator("#messages [hx-get], #messages img, #messages b")).to_have_count(
        0
    )
    composer = alice.page.get_by_role("textbox", name="Message")
    await expect(composer).to_have_value("")  # cleared at once for the next message

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


async def test_everything_works_with_javascript_off(browser: Browser, server: Server) -> None:
    await sign_up(server.base, "alice")  # an account exists; this browser only logs in
    writer = await signed_up(browser, server.base, "bob")
    general, bob = await Room.get(slug="general"), await User.get(username="bob")
    await fill_room(general, bob, 60, prefix="old")  # history to page through
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{server.base}/login")
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{server.base}/rooms/general")
    await expect(page.locator("#messages .chat")).to_have_count(50)
    await expect(page.locator("#messages .chat-bubble").first).to_have_text("old 10")

    await page.get_by_role("link", name="Older messages").click()
    await expect(page.locator("#messages .chat-bubble")).to_have_count(10)
    await expect(page.locator("#messages .chat-bubble").first).to_have_text("old 0")
    await page.get_by_role("link", name="Back to the room").click()

    await page.get_by_role("textbox", name="Message").fill("posted without JavaScript")
    await page.get_by_role("button", name="Send").click()
    await page.wait_for_url(f"{server.base}/rooms/general#message-*")
    await expect(page.locator("#messages .chat-end .chat-bubble")).to_have_text(
        ["posted without JavaScript"]
    )
    await expect(writer.page.locator("#messages .chat-bubble").last).to_have_text(
        "posted without JavaScript"
    )  # and the live tab got it pushed


async def test_keyboard_labels_and_small_screens(browser: Browser, server: Server) -> None:
    phone = await signed_up(browser, server.base, "alice", viewport={"width": 390, "height": 844})
    page = phone.page
    box = page.get_by_role("textbox", name="Message")
    await expect(box).to_be_focused()  # the composer has focus on arrival
    await box.press_sequentially("first line")
    await box.press("Shift+Enter")
    await box.press_sequentially("second line")
    await expect(box).to_have_value("first line\nsecond line")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#messages .chat-bubble")).to_have_text(["first line\nsecond line"])
    await expect(page.get_by_role("log", name="Messages")).to_be_attached()

    sidebar = page.get_by_role("navigation", name="Rooms and people")
    await expect(sidebar).not_to_be_in_viewport()  # the drawer is collapsed on a phone
    await page.get_by_label("Open rooms and people").click()
    await expect(sidebar).to_be_in_viewport()
    await page.wait_for_timeout(500)  # let the drawer finish sliding in
    await page.screenshot(path=ARTIFACTS / "drawer-phone.png")
    assert phone.errors == [], phone.errors
