"""Personal access tokens: the settings page, scopes, expiry, revocation, last use, limits,
and hostile Authorization headers."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from quart.testing import QuartClient

from chat_app.actions.accounts import deactivate_user
from chat_app.actions.tokens import create_token
from chat_app.models import ApiToken, Message, Room, User
from tests.conftest import csrf_from


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def make_token(user: User, scope: str = "read-write", days: int | None = None) -> str:
    return (await create_token(user, "script", scope, days))[1]


async def test_made_on_the_settings_page_shown_once_and_revoked_there(
    app: Quart, alice_client: QuartClient, alice: User
) -> None:
    page = await (await alice_client.get("/settings/tokens")).get_data(as_text=True)
    made = await alice_client.post(
        "/settings/tokens",
        form={"name": "CI", "scope": "read", "days": "30", "csrf_token": csrf_from(page)},
    )
    assert made.status_code == 201
    html = await made.get_data(as_text=True)
    secret = re.search(r'id="new-token-secret"[^>]*value="([^"]+)"', html)
    assert secret, html
    token = await ApiToken.get(user_id=alice.id)
    assert token.name == "CI" and token.scope == "read" and token.expires_at is not None
    # Only its SHA-256 is kept; the list shows a hint, never the secret again.
    assert token.digest == hashlib.sha256(secret.group(1).encode()).hexdigest()
    assert secret.group(1) not in str(await ApiToken.all().values())
    listing = await (await alice_client.get("/settings/tokens")).get_data(as_text=True)
    assert secret.group(1) not in listing and token.hint in listing and "never" in listing

    client = app.test_client()
    me = await client.get("/api/v1/me", headers=bearer(secret.group(1)))
    assert await me.get_json() == {
        "username": "alice",
        "is_admin": False,
        "is_bot": False,
        "scope": "read",
    }
    revoke = await alice_client.post(
        f"/settings/tokens/{token.id}/revoke", form={"csrf_token": csrf_from(listing)}
    )
    assert revoke.status_code == 303
    gone = await client.get("/api/v1/me", headers=bearer(secret.group(1)))
    assert gone.status_code == 401
    assert (await gone.get_json())["error"]["code"] == "invalid_token"


async def test_the_page_explains_a_bad_form(alice_client: QuartClient, alice: User) -> None:
    page = await (await alice_client.get("/settings/tokens")).get_data(as_text=True)
    for form in (
        {"name": "", "scope": "read"},
        {"name": "x", "scope": "admin"},
        {"name": "x" * 65, "scope": "read"},
        {"name": "a\nb", "scope": "read"},
        {"name": "x", "scope": "read", "days": "-1"},
        {"name": "x", "scope": "read", "days": "9999"},
    ):
        response = await alice_client.post(
            "/settings/tokens", form={**form, "csrf_token": csrf_from(page)}
        )
        assert response.status_code == 422, form
        assert 'role="alert"' in await response.get_data(as_text=True)
    assert not await ApiToken.exists()


async def test_a_read_token_reads_and_cannot_write(
    client: QuartClient, alice: User, general: Room
) -> None:
    secret = await make_token(alice, "read")
    assert (await client.get("/api/v1/rooms", headers=bearer(secret))).status_code == 200
    refused = await client.post(
        "/api/v1/rooms/general/messages",
        json={"content": "hi", "client_id": "a" * 16},
        headers=bearer(secret),
    )
    assert refused.status_code == 403
    assert (await refused.get_json())["error"]["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]
    assert not await Message.exists()


async def test_a_token_needs_no_csrf_token_and_a_cookie_still_does(
    client: QuartClient, alice_client: QuartClient, alice: User, general: Room
) -> None:
    secret = await make_token(alice)
    body = {"content": "from a script", "client_id": "s" * 16}
    posted = await client.post("/api/v1/rooms/general/messages", json=body, headers=bearer(secret))
    assert posted.status_code == 201
    # The same request from a signed-in browser without its CSRF token is refused, as before.
    cookie = await alice_client.post("/api/v1/rooms/general/messages", json=body)
    assert cookie.status_code == 403
    # The legacy endpoints take tokens too.
    legacy = await client.post("/api/presence", json={"status": "away"}, headers=bearer(secret))
    assert legacy.status_code == 200


async def test_a_token_counts_only_on_the_api(client: QuartClient, alice: User) -> None:
    """Pages keep their cookie rules: a bearer token signs nobody in there."""
    secret = await make_token(alice)
    page = await client.get("/rooms/general", headers=bearer(secret))
    assert page.status_code in {302, 303, 401}


async def test_an_expired_token_or_one_of_a_deactivated_user_is_refused(
    app: Quart, client: QuartClient, alice: User, bob: User
) -> None:
    old = await make_token(alice, days=1)
    await ApiToken.filter(user_id=alice.id).update(expires_at=datetime.now(UTC) - timedelta(1))
    assert (await client.get("/api/v1/me", headers=bearer(old))).status_code == 401
    bobs = await make_token(bob)
    assert (await client.get("/api/v1/me", headers=bearer(bobs))).status_code == 200
    async with app.app_context():
        await deactivate_user(bob)
    assert (await client.get("/api/v1/me", headers=bearer(bobs))).status_code == 401


async def test_last_use_is_written_at_most_once_a_minute(client: QuartClient, alice: User) -> None:
    secret = await make_token(alice)
    assert (await ApiToken.get(user_id=alice.id)).last_used_at is None
    await client.get("/api/v1/me", headers=bearer(secret))
    first = (await ApiToken.get(user_id=alice.id)).last_used_at
    assert first is not None
    await client.get("/api/v1/me", headers=bearer(secret))
    assert (await ApiToken.get(user_id=alice.id)).last_used_at == first
    earlier = datetime.now(UTC) - timedelta(minutes=2)
    await ApiToken.filter(user_id=alice.id).update(last_used_at=earlier)
    await client.get("/api/v1/me", headers=bearer(secret))
    assert (await ApiToken.get(user_id=alice.id)).last_used_at > earlier  # type: ignore[operator]


async def test_each_token_has_its_own_request_budget(
    app: Quart, client: QuartClient, alice: User
) -> None:
    app.config["API_REQUESTS_BURST"], app.config["API_REQUESTS_PER_SECOND"] = 3, 0.01
    try:
        first, second = await make_token(alice), await make_token(alice)
        answers = [await client.get("/api/v1/me", headers=bearer(first)) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert int(answers[-1].headers["Retry-After"]) >= 1
        assert (await answers[-1].get_json())["error"]["code"] == "rate_limited"
        assert (await client.get("/api/v1/me", headers=bearer(second))).status_code == 200
    finally:
        app.config["API_REQUESTS_BURST"], app.config["API_REQUESTS_PER_SECOND"] = 60, 10.0


HOSTILE_AUTHORIZATION = [
    "",
    "Bearer",
    "Bearer ",
    "Basic YWxpY2U6cGFzc3dvcmQ=",
    "Token parley_" + "a" * 43,
    "Bearer parley_" + "a" * 43,  # well-formed, but no such token
    "Bearer parley_" + "a" * 42,
    "Bearer " + "parley_" + "a" * 10_000,
    "Bearer parley_" + "a" * 42 + "\u00e9",
    "Bearer ' OR 1=1 --",
    "Bearer ../../etc/passwd",
    "Bearer %00",
]


@pytest.mark.parametrize("header", HOSTILE_AUTHORIZATION, ids=range(len(HOSTILE_AUTHORIZATION)))
async def test_hostile_authorization_headers_get_a_json_401(
    client: QuartClient, alice: User, header: str
) -> None:
    response = await client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401, header
    assert (await response.get_json())["error"]["code"] in {"invalid_token", "unauthorized"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_secret_with_junk_around_it_or_two_headers_is_refused(
    client: QuartClient, alice: User
) -> None:
    secret = await make_token(alice)
    for header in (f"Bearer {secret}x", f"Bearer {secret} {secret}", f"Bearer {secret[:-1]}"):
        response = await client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
    assert (
        await client.get("/api/v1/me", headers={"Authorization": f"bearer  {secret} "})
    ).status_code == 200
    two = await client.get(
        "/api/v1/me", headers=[("Authorization", f"Bearer {secret}"), ("Authorization", "Bearer x")]
    )
    assert two.status_code == 401


async def test_a_token_beside_another_users_cookie_acts_as_the_token(
    alice_client: QuartClient, alice: User, bob: User
) -> None:
    secret = await make_token(bob)
    me = await alice_client.get("/api/v1/me", headers=bearer(secret))
    assert (await me.get_json())["username"] == "bob"
