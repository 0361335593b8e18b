"""Your data in Chromium: the export's progress and download under the page's CSP, deleting
the account with the password (another person's tab drops the messages live), and axe."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import PASSWORD, serving
from tests.e2e.conftest import send, signed_up
from tests.e2e.test_message_actions_browser import audit

pytestmark = pytest.mark.browser


async def test_export_then_delete_my_account(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    env = {"CHAT_EXPORT_DIR": str(tmp_path / "exports")}
    with serving(database_url, tmp_path / "server.log", env) as server:
        alice = await signed_up(browser, server.base, "alice")
        bob = await signed_up(browser, server.base, "bob")
        page = alice.page
        await send(page, "my words, mine to take")
        await expect(bob.page.locator("#messages .chat-start")).to_have_count(1)

        await page.locator("#viewer-name").click()
        await page.get_by_role("link", name="Your data").click()
        await page.get_by_role("button", name="Export my data").click()
        link = page.get_by_role("link", name="Download your data (ZIP)")
        await expect(link).to_be_visible(timeout=15_000)  # swapped in, then polled until ready
        async with page.expect_download() as waiting:
            await link.click()
        saved = tmp_path / "alice.zip"
        await (await waiting.value).save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            assert "my words, mine to take" in archive.read("messages.jsonl").decode()

        await page.get_by_label("Your password, to confirm").fill(PASSWORD)
        await page.get_by_role("button", name="Delete my account for good").click()
        await page.wait_for_url(f"{server.base}/goodbye")
        await expect(bob.page.locator("#messages .chat-start")).to_have_count(0, timeout=15_000)
        await bob.page.reload()
        await expect(bob.page.locator("#messages .chat-start")).to_have_count(0)
        for person in (alice, bob):
            assert person.errors == [], person.errors
            assert person.foreign == []


async def test_the_data_page_is_accessible(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    with serving(database_url, tmp_path / "server.log") as server:
        # The page's CSP keeps injected scripts out: axe runs in a context that bypasses it.
        carol = await signed_up(browser, server.base, "carol", bypass_csp=True)
        await carol.page.goto(f"{server.base}/settings/data")
        assert await audit(carol.page) == []
