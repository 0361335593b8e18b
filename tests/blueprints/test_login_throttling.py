"""Login throttling: per account name and per client address, clear 429s, no enumeration."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.testing import QuartClient
from werkzeug.datastructures import Headers

from chat_app.models import User
from tests.conftest import PASSWORD, csrf_from


async def attempt(
    client: QuartClient, username: str, password: str, headers: dict[str, str] | None = None
) -> tuple[int, str, Headers]:
    """One login through the real form: status, page text and headers."""
    token = csrf_from(await (await client.get("/login")).get_data(as_text=True))
    response = await client.post(
        "/login",
        form={"username": username, "password": password, "csrf_token": token},
        headers=headers or {},
    )
    return response.status_code, await response.get_data(as_text=True), response.headers


async def test_an_account_is_throttled_after_five_failures_even_with_the_right_password(
    app: Quart, alice: User
) -> None:
    for _ in range(5):
        status, _, _ = await attempt(app.test_client(), "alice", "wrong password")
        assert status == 401
    status, page, headers = await attempt(app.test_client(), "alice", PASSWORD)
    assert status == 429
    assert "Too many sign-in attempts. Wait" in page
    assert int(headers["Retry-After"]) >= 1


async def test_the_account_throttle_does_not_reveal_whether_the_account_exists(
    app: Quart, alice: User
) -> None:
    answers = []
    for name in ("alice", "nobody"):
        for _ in range(5):
            await attempt(app.test_client(), name, "wrong password")
        status, page, _ = await attempt(app.test_client(), name, "wrong password")
        # Same page but for the form's token and the seconds left.
        answers.append((status, re.sub(r'value="[^"]*"|"X-CSRF-Token": "[^"]*"|\d+ s', "", page)))
    assert answers[0][0] == answers[1][0] == 429
    assert answers[0][1] == answers[1][1]


async def test_successful_logins_do_not_count_against_the_account(
    app: Quart, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_BURST", 100)
    for _ in range(8):
        status, _, _ = await attempt(app.test_client(), "alice", PASSWORD)
        assert status == 303


async def test_one_address_is_throttled_across_many_account_names(
    client: QuartClient, monkeypatch: pytest.MonkeyPatch, app: Quart
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_BURST", 3)
    statuses = [(await attempt(client, f"user{n}", "wrong password"))[0] for n in range(4)]
    assert statuses == [401, 401, 401, 429]


async def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(
    app: Quart, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_BURST", 2)
    spoofed = [
        (await attempt(app.test_client(), f"u{n}", "wrong", {"X-Forwarded-For": f"10.0.0.{n}"}))[0]
        for n in range(3)
    ]
    assert spoofed == [401, 401, 429]  # a made-up header does not buy fresh attempts


async def test_with_one_trusted_proxy_the_address_it_saw_is_throttled(
    app: Quart, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_BURST", 2)
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", 1)
    # The client may prepend anything; only the entry our proxy appended counts.
    for n in range(2):
        forged = {"X-Forwarded-For": f"6.6.6.{n}, 203.0.113.7"}
        assert (await attempt(app.test_client(), "alice", "wrong", forged))[0] == 401
    other = {"X-Forwarded-For": "198.51.100.1"}
    assert (await attempt(app.test_client(), "bob", "wrong", other))[0] == 401
    same = {"X-Forwarded-For": "203.0.113.7"}
    assert (await attempt(app.test_client(), "carol", "wrong", same))[0] == 429


async def test_sign_ups_share_the_address_budget(
    client: QuartClient, app: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_ADDRESS_BURST", 2)
    statuses = []
    for n in range(3):
        token = csrf_from(await (await client.get("/register")).get_data(as_text=True))
        form = {"username": f"newbie{n}", "password": PASSWORD, "csrf_token": token}
        statuses.append((await client.post("/register", form=form)).status_code)
    assert statuses == [303, 303, 429]
    assert await User.filter(username__startswith="newbie").count() == 2
