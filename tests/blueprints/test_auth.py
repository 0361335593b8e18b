"""Register, log in, log out, and the CSRF check on every form."""

from __future__ import annotations

from quart import Quart
from quart.testing import QuartClient

from chat_app.models import AuthSession, User
from tests.conftest import PASSWORD, csrf_from, log_in


async def _form(client: QuartClient, path: str) -> str:
    return csrf_from(await (await client.get(path)).get_data(as_text=True))


async def test_register_signs_in_and_lands_in_general(client: QuartClient) -> None:
    token = await _form(client, "/register")
    response = await client.post(
        "/register", form={"username": "carol", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/rooms/general"
    page = await client.get("/rooms/general")
    assert page.status_code == 200
    assert "carol" in await page.get_data(as_text=True)


async def test_session_cookie_is_httponly_lax_secure_and_short_lived(client: QuartClient) -> None:
    token = await _form(client, "/register")
    response = await client.post(
        "/register", form={"username": "carol", "password": PASSWORD, "csrf_token": token}
    )
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if "parley_session" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Max-Age=1209600" in cookie  # 14 days


async def test_register_error_keeps_the_username_and_explains(client: QuartClient) -> None:
    token = await _form(client, "/register")
    response = await client.post(
        "/register", form={"username": "carol", "password": "short", "csrf_token": token}
    )
    assert response.status_code == 422
    body = await response.get_data(as_text=True)
    assert "Passwords are 8 to 256 characters" in body and 'value="carol"' in body


async def test_login_with_wrong_password_is_refused_vaguely(
    client: QuartClient, alice: User
) -> None:
    token = await _form(client, "/login")
    response = await client.post(
        "/login", form={"username": "alice", "password": "wrong password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong username or password." in await response.get_data(as_text=True)


async def test_logout_revokes_the_session_row(app: Quart, alice: User) -> None:
    browser = await log_in(app, "alice")
    assert await AuthSession.filter(user=alice).count() == 1
    token = await _form(browser, "/rooms/general")
    response = await browser.post("/logout", form={"csrf_token": token})
    assert response.status_code == 303
    assert await AuthSession.filter(user=alice).count() == 0
    assert (await browser.get("/rooms/general")).status_code == 401


async def test_a_stolen_cookie_dies_with_logout(app: Quart, alice: User) -> None:
    browser = await log_in(app, "alice")
    thief = app.test_client()
    for cookie in browser.cookie_jar:  # type: ignore[union-attr]
        thief.cookie_jar.set_cookie(cookie)  # type: ignore[union-attr]
    assert (await thief.get("/rooms/general")).status_code == 200
    await browser.post("/logout", form={"csrf_token": await _form(browser, "/rooms/general")})
    assert (await thief.get("/rooms/general")).status_code == 401


async def test_forms_without_csrf_token_are_refused(client: QuartClient, alice: User) -> None:
    await client.get("/login")
    response = await client.post("/login", form={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


async def test_forms_with_another_browsers_token_are_refused(
    app: Quart, client: QuartClient, alice: User
) -> None:
    other_token = await _form(app.test_client(), "/login")
    await client.get("/login")
    response = await client.post(
        "/login", form={"username": "alice", "password": PASSWORD, "csrf_token": other_token}
    )
    assert response.status_code == 403


async def test_cross_site_posts_are_refused_even_with_a_token(
    client: QuartClient, alice: User
) -> None:
    token = await _form(client, "/login")
    form = {"username": "alice", "password": PASSWORD, "csrf_token": token}
    evil = await client.post("/login", form=form, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    cross = await client.post("/login", form=form, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    same = await client.post("/login", form=form, headers={"Origin": "http://localhost"})
    assert same.status_code == 303


async def test_log_out_everywhere_ends_every_session(app: Quart, alice: User) -> None:
    laptop, phone = await log_in(app, "alice"), await log_in(app, "alice")
    assert await AuthSession.filter(user=alice).count() == 2
    token = await _form(laptop, "/rooms/general")
    response = await laptop.post("/logout/everywhere", form={"csrf_token": token})
    assert response.status_code == 303
    assert await AuthSession.filter(user=alice).count() == 0
    assert (await phone.get("/rooms/general")).status_code == 401
