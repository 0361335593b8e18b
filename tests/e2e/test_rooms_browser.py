"""Rooms and direct messages in a real Chromium against the real server: creating and
joining a room, a conversation between two people that a third cannot open, and a removed
member's tab being told why."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import Server
from tests.e2e.conftest import send, signed_up

pytestmark = pytest.mark.browser


async def test_create_a_room_and_another_person_joins_it(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server.base, "alice", viewport={"width": 1280, "height": 800})
    bob = await signed_up(browser, server.base, "bob", viewport={"width": 1280, "height": 800})
    await alice.page.get_by_role("link", name="+ Create a room").click()
    await alice.page.get_by_label("Name").fill("Design Review")
    await alice.page.get_by_label("Topic (optional)").fill("Mockups on Fridays")
    await alice.page.get_by_role("button", name="Create the room").click()
    await alice.page.wait_for_url(f"{server.base}/rooms/design-review")
    await expect(alice.page.locator("#room-topic")).to_have_text("Mockups on Fridays")
    await expect(alice.page.locator("#room-member-count")).to_have_text("1 member")
    await expect(alice.page.locator("#room-list")).to_contain_text("Design Review")

    await bob.page.get_by_role("link", name="Browse rooms").click()
    await bob.page.get_by_role("button", name="Join Design Review").click()
    await bob.page.wait_for_url(f"{server.base}/rooms/design-review")
    await expect(bob.page.locator("#room-member-count")).to_have_text("2 members")
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    await expect(alice.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    await send(bob.page, "hello design")
    await expect(alice.page.locator("#messages .chat-bubble")).to_have_text(["hello design"])
    for person in (alice, bob):
        assert person.errors == [] and person.foreign == []


async def test_a_dm_between_two_people_that_a_third_cannot_open(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    carol = await signed_up(browser, server.base, "carol")
    await alice.page.get_by_role("link", name="+ New message").click()
    await alice.page.get_by_label("bob").check()
    await alice.page.get_by_role("button", name="Open the conversation").click()
    await alice.page.wait_for_url(f"{server.base}/rooms/dm-*")
    dm_url = alice.page.url
    await expect(alice.page.locator("#room-title")).to_have_text("bob")
    await expect(alice.page.locator("#chat")).to_have_attribute("data-connection", "connected")

    # Bob sees it in his sidebar under alice's name, opens it, and they talk.
    await bob.page.reload()
    await bob.page.locator("#direct-list").get_by_role("link", name="alice").click()
    await bob.page.wait_for_url(dm_url)
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    await send(alice.page, "just between us")
    await expect(bob.page.locator("#messages .chat-bubble")).to_have_text(["just between us"])

    # Carol, with the address: nothing.
    response = await carol.page.goto(dm_url)
    assert response is not None and response.status == 404
    assert "just between us" not in await carol.page.content()
    await carol.page.goto(f"{server.base}/rooms/general")
    await expect(carol.page.locator("#direct-list")).not_to_contain_text("alice")
    for person in (alice, bob):
        assert person.errors == [] and person.foreign == []


async def test_a_removed_member_is_told_and_does_not_reconnect(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    await alice.page.get_by_role("link", name="+ Create a room").click()
    await alice.page.get_by_label("Name").fill("Ops")
    await alice.page.get_by_label("Private: only its members see it, and add others").check()
    await alice.page.get_by_role("button", name="Create the room").click()
    await alice.page.wait_for_url(f"{server.base}/rooms/ops")
    await alice.page.get_by_role("link", name="Settings").click()
    await alice.page.get_by_label("Username to add").fill("bob")
    await alice.page.get_by_role("button", name="Add", exact=True).click()
    await expect(alice.page.locator("#room-members")).to_contain_text("bob")

    await bob.page.goto(f"{server.base}/rooms/ops")
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    await alice.page.get_by_role("button", name="Remove bob").click()
    await expect(bob.page.locator("#notice")).to_contain_text("You were removed from this room.")
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "disconnected")
    await bob.page.wait_for_timeout(1500)  # no reconnect: 1008 is final
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "disconnected")
    response = await bob.page.goto(f"{server.base}/rooms/ops")
    assert response is not None and response.status == 404
