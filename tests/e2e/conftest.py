"""Browser fixtures: Debian's Chromium driven by Playwright, and pages that watch themselves."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright

from chat_app.actions import register_user
from tests.conftest import PASSWORD

CHROMIUM = os.environ.get("CHAT_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("CHAT_REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).with_name("assets") / "axe.min.js"  # vendored from npm by `make css`
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture(autouse=True)
async def contexts_closed(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every browser context a test opened is closed after it. An open page goes on
    reconnecting its socket and running its timers: a session's worth of them (over a
    hundred renderers, a core's worth of CPU) slowed every test that ran after these."""
    browser: Browser | None = None
    if "browser" in request.fixturenames:
        browser = request.getfixturevalue("browser")
    yield
    if browser is not None:
        for context in browser.contexts:
            await context.close()


@pytest.fixture(autouse=True)
async def workspace_founded(app: object) -> None:
    """The workspace's first account exists (and so is its admin): the people a test signs up
    through the page are ordinary members, as they would be on any running workspace."""
    await register_user("founder", PASSWORD, admin_if_first=True)


class Watched:
    """A page whose console errors and off-host requests are collected."""

    def __init__(self, page: Page, base: str) -> None:
        self.page = page
        self.host = urlsplit(base).hostname
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _request(self, request: Request) -> None:
        if urlsplit(request.url).hostname != self.host:
            self.foreign.append(request.url)


async def signed_up(browser: Browser, base: str, username: str, **context: object) -> Watched:
    """A new browser context that registered ``username`` and is in #general."""
    page = await (await browser.new_context(**context)).new_page()  # type: ignore[arg-type]
    watched = Watched(page, base)
    await page.goto(f"{base}/register")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url(f"{base}/rooms/general")
    return watched


async def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    await box.fill(text)
    await box.press("Enter")


async def audit(page: Page) -> list[dict[str, object]]:
    """axe-core's violations on ``page`` (WCAG 2 A/AA), each with its impact and the nodes it
    found. The page's CSP keeps injected scripts out: audit in a context made with
    ``bypass_csp=True``."""
    # Colours mid-transition (a theme switched, a menu sliding in) are not the page's colours.
    await page.evaluate(
        """() => Promise.race([
             new Promise(done => setTimeout(done, 2000)),
             Promise.all(document.getAnimations()
               .filter(a => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
               .map(a => a.finished.catch(() => null)))])"""
    )
    if not await page.evaluate("() => typeof axe !== 'undefined'"):
        await page.add_script_tag(content=AXE.read_text())
    result = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag', values:
             ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})"""
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:160] for n in v["nodes"]]}
        for v in result["violations"]
    ]
