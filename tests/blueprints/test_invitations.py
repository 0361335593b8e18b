"""Joining through the pages: /join/<code>, the register form under each CHAT_REGISTRATION."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from quart import Quart
from quart.testing import QuartClient
from quart.wrappers import Response

from chat_app.actions import create_invitation, register_user
from chat_app.models import Invitation, User
from tests.conftest import PASSWORD, csrf_from

HOSTILE = ["x" * 10_000, "A" * 58 + "\x00", "A" * 58 + "\x1b", "A" * 59, "<script>" + "A" * 51]


@pytest.fixture
async def ada(app: Quart) -> User:
    return await register_user("ada", PASSWORD, is_admin=True)


@pytest.fixture
def invite_only(app: Quart, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(app.config, "REGISTRATION", "invite")
    yield


async def new_code(app: Quart, maker: User | None, uses: int = 1) -> str:
    async with app.app_context():
        return (await create_invitation(maker, uses))[1]


async def sign_up_with(client: QuartClient, code: str | None) -> Response:
    """Carol signs up through the form the link (or the bare /register) shows."""
    path = "/register" + (f"?invite={quote(code)}" if code else "")
    page = await (await client.get(path)).get_data(as_text=True)
    form = {"username": "carol", "password": PASSWORD, "csrf_token": csrf_from(page)}
    if code is not None:
        form["invite"] = code
    return await client.post("/register", form=form)


async def sign_up_with_raw(client: QuartClient, code: str) -> Response:
    """Carol posts the register form with ``code``, whatever the page would have shown."""
    token = csrf_from(await (await client.get("/login")).get_data(as_text=True))
    return await client.post(
        "/register",
        form={"username": "carol", "password": PASSWORD, "invite": code, "csrf_token": token},
    )


async def test_the_link_says_who_invites_to_what_and_leads_to_the_form(
    app: Quart, client: QuartClient, ada: User, invite_only: None
) -> None:
    code = await new_code(app, ada)
    join = await client.get(f"/join/{code}")
    page = await join.get_data(as_text=True)
    assert join.status_code == 200
    assert "<strong>ada</strong> invited you to join <strong>Parley</strong>" in page
    assert f'href="/register?invite={code}"' in page
    form = await (await client.get(f"/register?invite={code}")).get_data(as_text=True)
    assert f'name="invite" value="{code}"' in form and 'name="password"' in form
    response = await sign_up_with(client, code)
    assert response.status_code == 303 and response.headers["Location"] == "/rooms/general"
    assert (await Invitation.get()).uses == 1
    assert not (await User.get(username="carol")).is_admin  # ada was first


async def test_invite_only_without_a_code_says_so_and_takes_no_one(
    client: QuartClient, ada: User, invite_only: None
) -> None:
    page = await client.get("/register")
    body = await page.get_data(as_text=True)
    assert page.status_code == 200
    assert "needs an invitation" in body and 'name="password"' not in body
    token = csrf_from(await (await client.get("/login")).get_data(as_text=True))
    refused = await client.post(
        "/register", form={"username": "carol", "password": PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 403
    assert "needs an invitation" in await refused.get_data(as_text=True)
    assert not await User.exists(username="carol")


async def test_closed_registration_says_so_even_with_a_link(
    app: Quart, client: QuartClient, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = await new_code(app, ada)
    monkeypatch.setitem(app.config, "REGISTRATION", "closed")
    body = await (await client.get("/register")).get_data(as_text=True)
    assert "Registration is closed" in body and 'name="password"' not in body
    join = await (await client.get(f"/join/{code}")).get_data(as_text=True)
    assert "Registration is closed" in join and "/register?invite" not in join
    token = csrf_from(await (await client.get("/login")).get_data(as_text=True))
    refused = await client.post(
        "/register",
        form={"username": "carol", "password": PASSWORD, "invite": code, "csrf_token": token},
    )
    assert refused.status_code == 403
    assert not await User.exists(username="carol")
    assert (await Invitation.get()).uses == 0


async def test_the_first_sign_up_on_an_empty_database_is_an_admin(client: QuartClient) -> None:
    assert (await sign_up_with(client, None)).status_code == 303
    assert (await User.get(username="carol")).is_admin
    page = await (await client.get("/rooms/general")).get_data(as_text=True)
    assert 'href="/admin/invitations"' in page  # the navbar's user menu


@pytest.mark.parametrize("code", HOSTILE, ids=lambda c: ascii(c[:12]) + f"({len(c)})")
async def test_bad_codes_get_a_clear_page_and_change_nothing(
    app: Quart, client: QuartClient, ada: User, invite_only: None, code: str
) -> None:
    await new_code(app, ada)
    for path in (f"/join/{quote(code)}", f"/register?invite={quote(code)}"):
        page = await client.get(path)
        body = await page.get_data(as_text=True)
        assert page.status_code == 404, path
        assert "This invitation link is not valid" in body and "<script>" not in body
    posted = await sign_up_with_raw(client, code)
    assert posted.status_code == 404
    assert "not valid" in await posted.get_data(as_text=True)
    assert not await User.exists(username="carol")
    assert (await Invitation.get()).uses == 0


@pytest.mark.parametrize("how", ["expired", "revoked", "used up"])
async def test_a_spent_link_gets_a_clear_page(
    app: Quart, client: QuartClient, ada: User, invite_only: None, how: str
) -> None:
    code = await new_code(app, ada)
    if how == "expired":
        await Invitation.all().update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    elif how == "revoked":
        await Invitation.all().update(revoked_at=datetime.now(UTC))
    else:
        await register_user("dave", PASSWORD, invitation=code)
    expected = {"expired": "expired on", "revoked": "withdrawn", "used up": "used as many"}[how]
    for path in (f"/join/{code}", f"/register?invite={code}"):
        page = await client.get(path)
        assert page.status_code == 410
        body = await page.get_data(as_text=True)
        assert expected in body and "Ask ada for a new one." in body
    uses = (await Invitation.get()).uses
    assert (await sign_up_with_raw(client, code)).status_code == 410
    assert not await User.exists(username="carol")
    assert (await Invitation.get()).uses == uses


async def test_a_form_error_keeps_the_invitation(
    app: Quart, client: QuartClient, ada: User, invite_only: None
) -> None:
    code = await new_code(app, ada)
    token = csrf_from(await (await client.get(f"/register?invite={code}")).get_data(as_text=True))
    response = await client.post(
        "/register",
        form={"username": "ada", "password": PASSWORD, "invite": code, "csrf_token": token},
    )
    assert response.status_code == 422
    body = await response.get_data(as_text=True)
    assert "taken" in body and f'name="invite" value="{code}"' in body
    assert (await Invitation.get()).uses == 0


async def test_registering_without_the_csrf_token_is_refused(
    app: Quart, client: QuartClient, ada: User, invite_only: None
) -> None:
    code = await new_code(app, ada)
    await client.get(f"/register?invite={code}")
    response = await client.post(
        "/register", form={"username": "carol", "password": PASSWORD, "invite": code}
    )
    assert response.status_code == 403
    assert not await User.exists(username="carol")
    assert (await Invitation.get()).uses == 0
