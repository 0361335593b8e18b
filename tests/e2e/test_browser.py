"""Two people chat in a real Chromium against the real server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright, expect

from tests.conftest import PASSWORD, Server

CHROMIUM = os.environ.get("CHAT_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("CHAT_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(reason)
        pytest.skip(reason)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        await chromium.close()


class Watched:
    """A page whose console errors and off-host requests are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: Request) -> None:
        if urlsplit(request.url).hostname != "127.0.0.1":
            self.foreign.append(request.url)


async def signed_up(browser: Browser, server: Server, username: str, **context: object) -> Watched:
    page = await (await browser.new_context(**context)).new_page()  # type: ignore[arg-type]
    watched = Watched(page)
    await page.goto(f"{server.base}/register")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url(f"{server.base}/rooms/general")
    return watched


async def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


async def test_two_people_chat_both_ways(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server, "alice", viewport={"width": 1280, "height": 800})
    bob = await signed_up(browser, server, "bob", viewport={"width": 390, "height": 844})
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
    alice = await signed_up(browser, server, "carol")
    await send(alice.page, "   ")
    await expect(alice.page.locator("#composer-error")).to_have_text(
        "Write something before sending."
    )
    await expect(alice.page.locator("#messages .chat")).to_have_count(0)


async def test_typing_presence_and_connection_status(browser: Browser, server: Server) -> None:
    alice = await signed_up(browser, server, "alice")
    bob = await signed_up(browser, server, "bob")
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
