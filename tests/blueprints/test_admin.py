"""The admin page for invitations: admins only (404 for everyone else), CSRF on every form."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions import create_invitation
from chat_app.models import Invitation, User
from tests.conftest import csrf_from, log_in

PAGE = "/admin/invitations"


@pytest.fixture
async def ada_client(app: Quart, alice: User) -> QuartClient:
    """Alice, made a workspace admin, signed in."""
    await User.filter(id=alice.id).update(is_admin=True)
    return await log_in(app, "alice")


async def test_an_admin_makes_a_link_sees_it_listed_and_revokes_it(
    app: Quart, ada_client: QuartClient
) -> None:
    page = await ada_client.get(PAGE)
    body = await page.get_data(as_text=True)
    assert page.status_code == 200 and "No invitations yet." in body
    made = await ada_client.post(
        PAGE, form={"uses": "3", "days": "2", "csrf_token": csrf_from(body)}
    )
    shown = await made.get_data(as_text=True)
    assert made.status_code == 201
    link = re.search(r'value="(http://localhost/join/[A-Za-z0-9_-]{59})"', shown)
    assert link, shown
    join = await app.test_client().get(link.group(1).removeprefix("http://localhost"))
    assert "alice</strong> invited you" in await join.get_data(as_text=True)
    invitation = await Invitation.get()
    assert invitation.max_uses == 3 and invitation.created_by_id is not None
    row = re.search(rf'<tr id="invitation-{invitation.id}">(.*?)</tr>', shown, re.S)
    assert row and "alice" in row.group(1) and "3 of 3" in row.group(1)
    assert "active" in row.group(1)
    revoked = await ada_client.post(
        f"{PAGE}/{invitation.id}/revoke", form={"csrf_token": csrf_from(shown)}
    )
    assert revoked.status_code == 303 and revoked.headers["Location"] == PAGE
    listed = await (await ada_client.get(PAGE)).get_data(as_text=True)
    assert "revoked" in listed and f"{PAGE}/{invitation.id}/revoke" not in listed
    assert (await Invitation.get()).revoked_at is not None


async def test_the_page_is_not_there_for_anyone_else(
    app: Quart, ada_client: QuartClient, bob_client: QuartClient, client: QuartClient
) -> None:
    async with app.app_context():
        invitation, _ = await create_invitation(await User.get(username="alice"))
    token = csrf_from(await (await bob_client.get("/rooms/general")).get_data(as_text=True))
    for browser in (bob_client, client):
        assert (await browser.get(PAGE)).status_code == 404
        posts = [
            (PAGE, {"uses": "5", "days": "5", "csrf_token": token}),
            (f"{PAGE}/{invitation.id}/revoke", {"csrf_token": token}),
        ]
        for path, form in posts:
            assert (await browser.post(path, form=form)).status_code in {403, 404}
    bob_page = await (await bob_client.get("/rooms/general")).get_data(as_text=True)
    assert 'href="/admin/invitations"' not in bob_page
    assert await Invitation.all().count() == 1
    assert (await Invitation.get()).revoked_at is None


async def test_bob_with_his_own_token_gets_404(app: Quart, bob_client: QuartClient) -> None:
    token = csrf_from(await (await bob_client.get("/rooms/general")).get_data(as_text=True))
    response = await bob_client.post(PAGE, form={"uses": "1", "days": "1", "csrf_token": token})
    assert response.status_code == 404
    assert not await Invitation.exists()


async def test_forms_without_the_csrf_token_are_refused(
    app: Quart, ada_client: QuartClient
) -> None:
    async with app.app_context():
        invitation, _ = await create_invitation(await User.get(username="alice"))
    assert (await ada_client.post(PAGE, form={"uses": "1", "days": "1"})).status_code == 403
    revoke = await ada_client.post(f"{PAGE}/{invitation.id}/revoke", form={})
    assert revoke.status_code == 403
    assert await Invitation.all().count() == 1
    assert (await Invitation.get()).revoked_at is None


@pytest.mark.parametrize(
    ("uses", "days"),
    [("0", "7"), ("99999", "7"), ("-3", "7"), ("x" * 10_000, "7"), ("1", "\x00"), ("1", "400")],
)
async def test_bad_numbers_get_the_form_back_and_make_nothing(
    ada_client: QuartClient, uses: str, days: str
) -> None:
    token = csrf_from(await (await ada_client.get(PAGE)).get_data(as_text=True))
    response = await ada_client.post(PAGE, form={"uses": uses, "days": days, "csrf_token": token})
    assert response.status_code == 422
    assert "whole number" in await response.get_data(as_text=True)
    assert not await Invitation.exists()


@pytest.mark.parametrize("bad", ["999999", "abc", "1" * 5000, "%00"])
async def test_revoking_no_such_invitation_is_404(ada_client: QuartClient, bad: str) -> None:
    token = csrf_from(await (await ada_client.get(PAGE)).get_data(as_text=True))
    response = await ada_client.post(f"{PAGE}/{bad}/revoke", form={"csrf_token": token})
    assert response.status_code == 404
    assert "no such invitation" in await response.get_data(as_text=True)
