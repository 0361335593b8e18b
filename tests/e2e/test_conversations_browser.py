"""The live sidebar in Chromium: a new conversation arrives on the other person's tab while it
shows another room, its badge counts messages and clears when read; a room one is removed from
leaves the sidebar; a desktop notification for another room on a tab showing #general; and the
notification permission asked for only from its button."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from chat_app.actions.rooms import join_room
from chat_app.models import Room, User
from tests.conftest import Server
from tests.e2e.conftest import send, signed_up

pytestmark = pytest.mark.browser

# Notification records what would be shown (the real one needs a desktop), with a permission
# the page can ask for: "default" until requestPermission() is answered.
NOTIFICATIONS = """
window.shown = [];
window.Notification = class {
  static permission = "%s";
  static requestPermission() {
    window.Notification.permission = "granted";
    return Promise.resolve("granted");
  }
  constructor(title, options) { window.shown.push({ title, body: options.body }); }
  close() {}
};
"""


async def test_a_new_conversation_arrives_live_with_its_badge_and_clears_when_read(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    await alice.page.get_by_role("link", name="+ New message").click()
    await alice.page.get_by_label("bob").check()
    await alice.page.get_by_role("button", name="Open the conversation").click()
    await alice.page.wait_for_url(f"{server.base}/rooms/dm-*")
    await expect(alice.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    dm = await Room.get(slug=alice.page.url.rsplit("/", 1)[1])

    # Bob, still in #general, gets the conversation in his sidebar without a reload.
    entry = bob.page.locator(f"#direct-list #room-link-{dm.id}")
    await expect(entry).to_contain_text("alice")
    await send(alice.page, "are you there?")
    await send(alice.page, "it is about lunch")
    await expect(entry).to_have_attribute("data-unread", "true")
    await expect(entry.locator("[data-role=unread-count]")).to_have_text("2 unread messages")
    await entry.get_by_role("link").click()
    await expect(bob.page.locator("#messages .chat-bubble")).to_have_text(
        ["are you there?", "it is about lunch"]
    )
    await expect(bob.page.locator(f"#room-link-{dm.id}")).to_have_attribute("data-unread", "false")
    for person in (alice, bob):
        assert person.errors == [] and person.foreign == []


async def test_a_room_one_is_removed_from_leaves_the_sidebar_of_another_tab(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    await alice.page.goto(f"{server.base}/rooms/new")
    await alice.page.get_by_label("Name").fill("Ops")
    await alice.page.get_by_label("Private").check()
    await alice.page.get_by_role("button", name="Create the room").click()
    await alice.page.wait_for_url(f"{server.base}/rooms/ops")
    ops = await Room.get(slug="ops")
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    await alice.page.goto(f"{server.base}/rooms/ops/settings")
    await alice.page.get_by_label("Username to add").fill("bob")
    await alice.page.get_by_role("button", name="Add").click()
    await expect(bob.page.locator(f"#room-list #room-link-{ops.id}")).to_contain_text("Ops")
    await alice.page.get_by_role("button", name="Remove bob").click()
    await expect(bob.page.locator(f"#room-link-{ops.id}")).to_have_count(0)
    await expect(bob.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    for person in (alice, bob):
        assert person.errors == [] and person.foreign == []


async def test_a_tab_in_general_notifies_of_a_mention_in_another_room(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    await join_room(await User.get(username="alice"), "other", "Other")
    await join_room(await User.get(username="bob"), "other")
    await bob.page.add_init_script(NOTIFICATIONS % "granted")
    await bob.page.goto(f"{server.base}/rooms/general")  # visible, in another room
    await alice.page.goto(f"{server.base}/rooms/other")
    for person in (alice, bob):
        await expect(person.page.locator("#chat")).to_have_attribute("data-connection", "connected")
    await send(alice.page, "nothing for bob")  # his level in #other is "mentions"
    await send(alice.page, "@bob can you look?")
    await expect(bob.page.locator("#room-list [data-role=unread-count]")).to_have_text("1 mention")
    shown = await bob.page.evaluate("window.shown")
    assert shown == [{"title": "alice in #Other", "body": "@bob can you look?"}]
    assert await bob.page.locator("#desktop-notices > *").count() == 0  # shown, then removed
    for person in (alice, bob):
        assert person.errors == [] and person.foreign == []


async def test_the_permission_is_asked_for_only_from_its_button(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    page = alice.page
    await page.add_init_script(NOTIFICATIONS % "default")
    await page.goto(f"{server.base}/settings/notifications")
    button = page.get_by_role("button", name="Allow desktop notifications")
    await expect(button).to_be_visible()
    assert await page.evaluate("window.Notification.permission") == "default"  # not on load
    await button.focus()
    await page.keyboard.press("Enter")  # the keyboard works as well as a click
    await expect(page.locator("#notify-permission-state")).to_have_text(
        "Desktop notifications are allowed."
    )
    await expect(button).to_be_hidden()
    assert alice.errors == [] and alice.foreign == []
