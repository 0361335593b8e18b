"""Files in a real Chromium: dropped on the composer and pasted into it, uploaded with a
progress bar, sent, and shown to another person as a thumbnail that takes its place before
it loads (no layout shift) and opens full size."""

from __future__ import annotations

import asyncio
import base64
import io
import re

import pytest
from PIL import Image
from playwright.async_api import Browser, JSHandle, Page, Route, expect

from tests.conftest import Server
from tests.e2e.conftest import ARTIFACTS, signed_up

pytestmark = pytest.mark.browser


def picture(width: int, height: int) -> str:
    """A PNG of that size, base64 (for a File made in the page)."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (20, 120, 200)).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


async def files_of(page: Page, name: str, data: str, kind: str) -> JSHandle:
    """A DataTransfer holding one file, as a drop or a paste carries it."""
    return await page.evaluate_handle(
        """([name, data, kind]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], name, { type: kind }));
          return transfer;
        }""",
        [name, data, kind],
    )


async def test_drop_and_paste_upload_with_progress_and_show_without_shifting(
    browser: Browser, server: Server
) -> None:
    alice = await signed_up(browser, server.base, "alice")
    bob = await signed_up(browser, server.base, "bob")
    for person in (alice, bob):
        await expect(person.page.locator("#connection-status")).to_have_text("Connected")
    page = alice.page

    # Dropped on the composer: it is marked while dragged over, then the file uploads.
    dropped = await files_of(page, "landscape.png", picture(800, 400), "image/png")
    await page.dispatch_event("#composer", "dragenter", {"dataTransfer": dropped})
    await expect(page.locator("#composer")).to_have_attribute("data-dragging", "true")
    await page.dispatch_event("#composer", "drop", {"dataTransfer": dropped})
    # Pasted into the message box: a screenshot from the clipboard.
    pasted = await files_of(page, "notes.txt", base64.b64encode(b"pasted text").decode(), "")
    await page.evaluate(
        """(transfer) => document.getElementById("composer-content").dispatchEvent(
             new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true }))""",
        pasted,
    )
    rows = page.locator("#composer-uploads > li")
    await expect(rows).to_have_count(2)
    for n in range(2):
        await expect(rows.nth(n)).to_have_attribute("data-state", "done")
        await expect(rows.nth(n).locator("progress")).to_have_attribute("max", "100")
        assert await rows.nth(n).locator("progress").evaluate("(p) => p.value") == 100
        await expect(rows.nth(n).get_by_role("status")).to_contain_text("ready")
    await expect(page.locator("#composer [name=attachments]")).to_have_value(
        re.compile(r"^\d+,\d+$")
    )

    # Bob's thumbnail is held back: its box must already have its final size.
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        held.set()
        await release.wait()
        await route.continue_()

    await bob.page.route("**/thumbs/*", hold)
    box = page.get_by_role("textbox", name="Message")
    await box.fill("the view from here")
    await box.press("Enter")
    await expect(page.locator("#composer-uploads > li")).to_have_count(0)

    theirs = bob.page.locator("#messages img[src^='/thumbs/']")
    await expect(theirs).to_have_count(1)
    await asyncio.wait_for(held.wait(), 10)
    before = await theirs.bounding_box()
    assert not await theirs.evaluate("(img) => img.complete && img.naturalWidth > 0")
    release.set()
    await expect(theirs).to_have_js_property("complete", True)
    assert await theirs.evaluate("(img) => img.naturalWidth") == 480
    after = await theirs.bounding_box()
    assert before and after and (before["width"], before["height"]) == (240, 120)
    assert (after["width"], after["height"]) == (240, 120)
    await expect(theirs).to_have_attribute("loading", "lazy")
    card = bob.page.locator("#messages .attachment[data-kind=file]")
    await expect(card).to_contain_text("notes.txt")
    await expect(card).to_contain_text("11 Bytes · text/plain")

    # The thumbnail opens the full image.
    href = await bob.page.locator("#messages .attachment[data-kind=image] a").get_attribute("href")
    full = await bob.page.request.get(f"{server.base}{href}")
    assert full.status == 200 and full.headers["content-type"] == "image/png"
    ARTIFACTS.mkdir(exist_ok=True)
    await bob.page.screenshot(path=str(ARTIFACTS / "files-thumbnail.png"))
    assert not alice.errors and not bob.errors
