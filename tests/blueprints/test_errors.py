"""Error pages in the shell with what to do next, the login form's safe way back (``next``),
and the endpoint that hears about fragments a browser could not swap."""

from __future__ import annotations

import json
import logging

import pytest
from quart import Quart, abort
from quart.testing import QuartClient

from chat_app.models import User
from tests.conftest import PASSWORD, csrf_from, log_in
from tests.hostile import CORPUS, short


async def test_error_pages_are_pages_with_what_to_do_next(app: Quart, alice: User) -> None:
    browser = await log_in(app, "alice")
    missing = await browser.get("/rooms/no-such-room")
    assert missing.status_code == 404
    page = await missing.get_data(as_text=True)
    assert "<header" in page and "<main" in page and 'id="next-steps"' in page
    assert "Browse the rooms" in page and "Go to your rooms" in page

    refused = await browser.post("/rooms/general/messages", form={"content": "hi"})
    assert refused.status_code == 403
    assert "reload the page and send it again" in await refused.get_data(as_text=True)

    too_large = await browser.post(
        "/rooms/general/messages",
        data="x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert too_large.status_code == 413
    assert "send something smaller" in await too_large.get_data(as_text=True)

    # The JSON shape under /api/ is left as it is.
    api = await browser.get("/api/rooms/no-such-room/messages")
    assert api.status_code == 404 and "error" in await api.get_json()


@pytest.fixture
def failing_routes(app: Quart) -> None:
    """Routes that answer 429 and crash, as a limit or a bug would (registered once)."""
    if "test_too_many" in app.view_functions:
        return

    async def too_many() -> None:
        abort(429)

    async def crash() -> None:
        raise RuntimeError("a bug")

    # Registered after the first request, which Quart refuses unless told otherwise.
    app._got_first_request = False  # type: ignore[attr-defined]
    app.add_url_rule("/test-too-many", "test_too_many", too_many)
    app.add_url_rule("/test-crash", "test_crash", crash)


async def test_429_and_500_pages(client: QuartClient, failing_routes: None) -> None:
    busy = await client.get("/test-too-many")
    assert busy.status_code == 429
    assert "then try again" in await busy.get_data(as_text=True)
    broken = await client.get("/test-crash")
    assert broken.status_code == 500
    page = await broken.get_data(as_text=True)
    assert 'id="next-steps"' in page and "it has been logged" in page
    assert "a bug" not in page  # no internals


async def test_a_session_that_ended_leads_to_login_and_back(app: Quart, alice: User) -> None:
    client = app.test_client()
    ended = await client.get("/rooms/general?reply_to=3")
    assert ended.status_code == 401
    page = await ended.get_data(as_text=True)
    assert "/login?next=/rooms/general?reply_to%3D3&amp;expired=1" in page

    form = await (await client.get("/login?next=/rooms/general%3Freply_to%3D3&expired=1")).get_data(
        as_text=True
    )
    assert 'id="session-ended"' in form and 'name="next" value="/rooms/general?reply_to=3"' in form
    signed_in = await client.post(
        "/login",
        form={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(form),
            "next": "/rooms/general?reply_to=3",
        },
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/rooms/general?reply_to=3"


OFF_SITE = [
    "https://evil.example/",
    "//evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http:/evil.example",
    "evil.example",
    "/" + "x" * 3000,
    "",
]


def _sendable(text: str) -> bool:
    """Whether a browser could send ``text`` in a URL at all (lone surrogates cannot be
    encoded; the 10 MB entry is covered by the long path above)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return len(text) < 100_000


@pytest.mark.parametrize("target", OFF_SITE + [t for t in CORPUS if _sendable(t)], ids=short)
async def test_login_never_sends_anyone_off_site(app: Quart, alice: User, target: str) -> None:
    client = app.test_client()
    form = await (await client.get("/login", query_string={"next": target})).get_data(as_text=True)
    if not target.startswith("/") or target.startswith("//"):
        assert 'name="next"' not in form
    response = await client.post(
        "/login",
        form={
            "username": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_from(form),
            "next": target,
        },
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert location == "/rooms/general" or (location == target and target.isprintable())


# --- /client-errors ---------------------------------------------------------------------


async def _reporter(app: Quart) -> tuple[QuartClient, dict[str, str]]:
    client = await log_in(app, "alice")
    token = csrf_from(await (await client.get("/rooms/general")).get_data(as_text=True))
    return client, {"X-CSRF-Token": token, "Content-Type": "application/json"}


REPORT = {"kind": "oobErrorNoTarget", "target": "#message-42", "page": "/rooms/general"}


async def test_a_failed_swap_is_logged_once_per_report(
    app: Quart, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    client, headers = await _reporter(app)
    with caplog.at_level(logging.WARNING, logger="chat_app.blueprints.client_errors"):
        response = await client.post("/client-errors", data=json.dumps(REPORT), headers=headers)
    assert response.status_code == 204
    lines = [r.getMessage() for r in caplog.records if "client.swap_failed" in r.getMessage()]
    assert lines == [
        f"event=client.swap_failed kind=oobErrorNoTarget target=#message-42"
        f" page=/rooms/general user={alice.id}"
    ]


async def test_reports_need_a_session_and_the_csrf_token(app: Quart, alice: User) -> None:
    anonymous = app.test_client()
    body = json.dumps(REPORT)
    refused = await anonymous.post(
        "/client-errors", data=body, headers={"Content-Type": "application/json"}
    )
    assert refused.status_code in (401, 403)
    client, headers = await _reporter(app)
    no_token = {"Content-Type": "application/json"}
    assert (await client.post("/client-errors", data=body, headers=no_token)).status_code == 403
    cross_site = headers | {"Origin": "https://evil.example"}
    assert (await client.post("/client-errors", data=body, headers=cross_site)).status_code == 403


async def test_reports_are_rate_limited_per_user(app: Quart, alice: User) -> None:
    client, headers = await _reporter(app)
    statuses = [
        (await client.post("/client-errors", data=json.dumps(REPORT), headers=headers)).status_code
        for _ in range(app.config["CLIENT_ERRORS_PER_MINUTE"] + 2)
    ]
    assert statuses.count(204) == app.config["CLIENT_ERRORS_PER_MINUTE"]
    assert statuses[-1] == 429


JUNK: list[str | bytes] = [
    "",
    "not json",
    "[]",
    '"a string"',
    "null",
    json.dumps({"kind": "somethingElse", "target": "#x", "page": "/"}),
    json.dumps({"kind": "swapError", "target": 42, "page": "/"}),
    json.dumps({"kind": "swapError", "target": "x" * 201, "page": "/"}),
    json.dumps({"kind": "swapError", "target": "a\nb", "page": "/"}),
    json.dumps({"kind": "swapError", "target": "#x", "page": "https://evil.example/"}),
    json.dumps({"kind": "swapError", "target": "#x", "page": "//evil.example"}),
    json.dumps({"kind": "swapError", "target": "#x"}),
    b"\xff\xfe\x00garbage",
]


@pytest.mark.parametrize("body", JUNK, ids=lambda b: short(str(b)))
async def test_junk_reports_are_refused_clearly(app: Quart, alice: User, body: str) -> None:
    client, headers = await _reporter(app)
    response = await client.post("/client-errors", data=body, headers=headers)
    assert response.status_code == 400
    assert "error" in (await response.get_data(as_text=True)).lower()


@pytest.mark.parametrize("payload", CORPUS, ids=short)
async def test_hostile_targets_are_logged_quoted_or_refused(
    app: Quart, alice: User, payload: str
) -> None:
    client, headers = await _reporter(app)
    body = json.dumps({"kind": "targetError", "target": payload, "page": "/rooms/general"})
    response = await client.post("/client-errors", data=body, headers=headers)
    if len(body) > 2048:
        assert response.status_code == 413
    elif payload.isprintable() and len(payload) <= 200:
        assert response.status_code == 204  # text, logged as one quoted field
    else:
        assert response.status_code == 400


async def test_an_oversized_report_is_refused_before_it_is_read(app: Quart, alice: User) -> None:
    client, headers = await _reporter(app)
    big = json.dumps(REPORT | {"padding": "x" * 5000})
    assert (await client.post("/client-errors", data=big, headers=headers)).status_code == 413
