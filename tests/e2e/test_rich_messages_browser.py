"""Rich messages in a real Chromium: Markdown as the reader sees it, and a link preview card
that appears live, in the sender's tab and in another person's, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import Server, serving
from tests.e2e.conftest import ARTIFACTS, signed_up
from tests.e2e.conftest import send as send_message
from tests.sites import local_site

pytestmark = pytest.mark.browser


@pytest.fixture
def previewing_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server with link previews on that may reach this machine's test site."""
    env = {"CHAT_LINK_PREVIEWS": "1", "CHAT_OUTBOUND_ALLOW": "127.0.0.1"}
    with serving(database_url, tmp_path / "server.log", env) as running:
        yield running


async def test_markdown_shows_formatted_and_a_preview_card_appears_live(
    browser: Browser, previewing_server: Server
) -> None:
    async with local_site() as site:
        alice = await signed_up(browser, previewing_server.base, "alice")
        bob = await signed_up(browser, previewing_server.base, "bob")
        for person in (alice, bob):
            await expect(person.page.locator("#connection-status")).to_have_text("Connected")
        await send_message(alice.page, f"**Read** the `handbook` :tada: {site.base}/page")
        await send_message(alice.page, "```python\ndef f(x):\n    return x * 2\n```")
        for person in (alice, bob):
            bubble = person.page.locator(".chat-bubble", has_text="handbook").last
            await expect(bubble.locator("strong")).to_have_text("Read")
            await expect(bubble.locator("code")).to_have_text("handbook")
            await expect(bubble).to_contain_text("🎉")
            link = bubble.get_by_role("link", name=f"{site.base}/page")
            await expect(link).to_have_attribute("rel", "nofollow noopener noreferrer")
            card = person.page.locator('[data-role="preview"]')
            await expect(card).to_contain_text("The Parley handbook", timeout=10_000)
            await expect(card).to_contain_text("Example Docs")
            await expect(card).to_have_attribute("href", f"{site.base}/page")
        ARTIFACTS.mkdir(exist_ok=True)
        await bob.page.screenshot(path=ARTIFACTS / "rich-message.png")
        assert site.hits["/page"] == 1  # fetched once, by the server, for everyone
        for person in (alice, bob):
            assert not person.errors, person.errors
            # The browsers never fetched the linked page, nor its image (the server did).
            assert not [u for u in person.foreign if "169.254" in u or "/page" in u]
