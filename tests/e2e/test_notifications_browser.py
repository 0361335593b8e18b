"""Notifications in Chromium: the settings page's script under the CSP, the service worker, and
a desktop notification for a message that reaches a hidden tab."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from chat_app.push import generate_vapid_keys
from tests.conftest import serving
from tests.e2e.conftest import send, signed_up

pytestmark = pytest.mark.browser

# The tab looks hidden, and Notification records what would be shown (the real one needs a
# desktop). An init script runs before the page's own, whatever its CSP.
HIDDEN_TAB = """
Object.defineProperty(document, "hidden", { get: () => true });
window.shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.shown.push({ title, body: options.body }); }
  close() {}
};
"""


async def test_settings_and_a_hidden_tabs_notification(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    private, public = generate_vapid_keys()
    env = {
        "CHAT_VAPID_PRIVATE_KEY": private,
        "CHAT_VAPID_PUBLIC_KEY": public,
        "CHAT_VAPID_SUBJECT": "mailto:ops@parley.test",
    }
    with serving(database_url, tmp_path / "server.log", env) as server:
        alice = await signed_up(browser, server.base, "alice", permissions=["notifications"])
        page = alice.page
        await page.goto(f"{server.base}/settings/notifications")
        section = page.locator("#browser-notifications")
        await expect(section).to_be_visible()  # shown by notify-settings.js
        await expect(page.locator("#notify-permission-state")).to_have_text(
            "Desktop notifications are allowed."
        )
        await expect(page.locator("#push-subscribe")).to_be_visible()
        await page.locator("#notify-sound").check()
        assert await page.evaluate("localStorage.getItem('parley.notify.sound')") == "1"
        registered = await page.evaluate(
            "navigator.serviceWorker.register('/sw.js').then(r => r.scope)"
        )
        assert registered == f"{server.base}/"
        await page.locator("#level-general").select_option("all")
        await page.locator("#room-general").get_by_role("button", name="Save").click()
        await expect(page.locator("#room-general [role=status]")).to_have_text("Saved")

        await page.add_init_script(HIDDEN_TAB)
        await page.goto(f"{server.base}/rooms/general")
        await expect(page.locator("#chat")).to_have_attribute("data-notify", "all")
        await expect(page.locator("#chat")).to_have_attribute("data-connection", "connected")
        bob = await signed_up(browser, server.base, "bob")
        await send(bob.page, "lunch at noon?")
        await expect(page.locator("#messages .chat-start")).to_have_count(1)
        shown = await page.evaluate("window.shown")
        assert shown == [{"title": "bob in #General", "body": "lunch at noon?"}]
        await send(page, "sure")  # one's own message is no news
        await expect(page.locator("#messages .chat-end .chat-bubble")).to_have_text(["sure"])
        assert len(await page.evaluate("window.shown")) == 1
        for person in (alice, bob):
            assert person.errors == [], person.errors
            assert person.foreign == []
