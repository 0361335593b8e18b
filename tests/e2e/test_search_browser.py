"""Search in a real Chromium: the navbar box opened from the keyboard, results with the match
marked, and a result opened in context (its room's history, scrolled to it)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from chat_app.actions import register_user
from chat_app.models import Room
from tests.conftest import PASSWORD, Server, fill_room
from tests.e2e.conftest import ARTIFACTS, signed_up
from tests.e2e.test_message_actions_browser import audit

pytestmark = pytest.mark.browser


async def test_search_box_from_the_keyboard_and_a_result_in_context(
    browser: Browser, server: Server
) -> None:
    # axe is injected into the page to audit it: this context lets it past the page's CSP.
    alice = await signed_up(browser, server.base, "alice", bypass_csp=True)
    page = alice.page
    general = await Room.get(slug="general")
    # Someone else's message: dark theme's own-message bubble (primary) is below 4.5:1 contrast
    # everywhere in the app, which is not this test's subject.
    author = await register_user("bob", PASSWORD)
    [target] = await fill_room(general, author, 1, prefix="the quarterly roadmap <b>draft</b>")
    await fill_room(general, author, 80, prefix="filler")  # the target is far from the latest
    await page.reload()

    box = page.get_by_role("searchbox", name="Search messages")
    # "/" outside a text field opens the box, and is not typed into it.
    await page.get_by_role("heading", name="general").click()
    await page.keyboard.press("/")
    await expect(box).to_be_focused()
    await expect(box).to_have_value("")
    # Ctrl+K from inside the composer too.
    await page.get_by_role("textbox", name="Message").focus()
    await page.keyboard.press("Control+k")
    await expect(box).to_be_focused()
    await box.fill("ROADM")
    await box.press("Enter")
    await page.wait_for_url(f"{server.base}/search?q=ROADM")

    results = page.get_by_role("list", name="Results").get_by_role("listitem")
    await expect(results).to_have_count(1)
    await expect(results.locator("mark")).to_have_text(["roadm"])
    await expect(results.locator("[data-role=content]")).to_contain_text("<b>draft</b>")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "search-results.png")
    assert (found := await audit(page)) == [], found
    await page.get_by_title("Dark theme").click()
    await expect(page.get_by_role("checkbox", name="Dark theme")).to_be_checked()
    assert (found := await audit(page)) == [], found

    await results.get_by_role("link", name="Show in context").click()
    await page.wait_for_url(f"**/rooms/general/history?around={target}#message-{target}")
    message = page.locator(f"#message-{target}")
    await expect(message).to_be_in_viewport()
    await expect(page.locator(".chat:target")).to_have_attribute("id", f"message-{target}")
    assert alice.errors == [] and alice.foreign == []
