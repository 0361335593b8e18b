"""Unread marks and mentions in a real Chromium: a badge on the tabs of another room that
clears on all of them, and the composer's @ suggestions."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, expect

from chat_app.actions.rooms import join_room
from chat_app.models import Membership, User
from chat_app.models.changes import newest_change
from tests.conftest import Server
from tests.e2e.conftest import send, signed_up

pytestmark = pytest.mark.browser


async def test_a_mention_marks_the_room_on_tabs_elsewhere_and_reading_it_clears_them(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    other = await join_room(await User.get(username="alice"), "other", "Other")
    await join_room(await User.get(username="bob"), "other")
    await alice.page.goto(f"{server.base}/rooms/other")
    await bob.page.reload()
    second = await bob.page.context.new_page()  # bob's second tab, also in #general
    await second.goto(f"{server.base}/rooms/general")
    for tab in (bob.page, second):
        await expect(tab.locator("#connection-status")).to_have_text("Connected")
    await expect(alice.page.locator("#connection-status")).to_have_text("Connected")

    await send(alice.page, "hi @bob, look at this")
    await expect(alice.page.locator("#messages .mention")).to_have_text(["@bob"])
    for tab in (bob.page, second):
        entry = tab.locator(f"#room-link-{other.id}")
        await expect(entry).to_have_attribute("data-unread", "true")
        await expect(entry.locator("[data-role=unread-count]")).to_have_text("1 mention")

    # Bob opens #other in a third tab: the room is read there, and cleared on the others.
    reading = await bob.page.context.new_page()
    await reading.goto(f"{server.base}/rooms/other")
    await expect(reading.locator("#unread-divider")).to_be_visible()
    await expect(reading.locator(".mention.mention-me")).to_have_text(["@bob"])
    for tab in (bob.page, second):
        await expect(tab.locator(f"#room-link-{other.id}")).to_have_attribute(
            "data-unread", "false"
        )
    # A new message while the #other tab is open and visible: it reports it read itself.
    await expect(reading.locator("#connection-status")).to_have_text("Connected")
    await send(alice.page, "one more")
    await expect(reading.locator("#messages .chat-start .chat-bubble").last).to_have_text(
        "one more"
    )
    bob_id = (await User.get(username="bob")).id
    async with asyncio.timeout(10):
        while (
            await Membership.get(user_id=bob_id, room_id=other.id)
        ).last_read_change < await newest_change(other.id):
            await asyncio.sleep(0.1)
    for tab in (bob.page, second):
        await expect(tab.locator(f"#room-link-{other.id}")).to_have_attribute(
            "data-unread", "false"
        )
    for watched in (alice, bob):
        assert watched.errors == [], watched.errors


async def test_typing_at_suggests_members_and_the_keys_choose_one(
    browser: Browser, server: Server
) -> None:
    await signed_up(browser, server.base, "bob")
    await signed_up(browser, server.base, "bella")
    alice = await signed_up(browser, server.base, "alice")
    box = alice.page.get_by_role("textbox", name="Message")
    await box.press_sequentially("thanks @b")
    listbox = alice.page.get_by_role("listbox", name="Members to mention")
    await expect(listbox.get_by_role("option")).to_have_text(["@bella", "@bob"])
    await expect(box).to_have_attribute("aria-activedescendant", "mention-option-1")
    await box.press("ArrowDown")
    await expect(box).to_have_attribute("aria-activedescendant", "mention-option-2")
    await expect(alice.page.locator("#mention-status")).to_contain_text("2 suggestions")
    await box.press("Enter")  # chooses; does not send
    await expect(box).to_have_value("thanks @bob ")
    await expect(listbox).to_have_count(0)
    await box.press_sequentially("and @be")
    await expect(listbox.get_by_role("option")).to_have_text(["@bella"])
    await box.press("Escape")
    await expect(listbox).to_have_count(0)
    await box.press("Enter")  # now it sends
    await expect(alice.page.locator("#messages .chat-end .mention")).to_have_text(["@bob"])
    assert alice.errors == [], alice.errors
