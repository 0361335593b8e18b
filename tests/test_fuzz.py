"""Property-based fuzzing of websocket frames and form posts: the server never crashes,
never stores what validation forbids, and always answers clearly."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from quart import Quart
from quart.testing import QuartClient

from chat_app.models import Message, Room, User
from tests.conftest import ORIGIN
from tests.hostile import answer, assert_inert, assert_valid_messages, post_form

# The fixtures (app, database rows, signed-in clients) are shared by every example on purpose;
# each example resets the rate limits so it is judged on its own.
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(st.characters(codec=None), max_size=300)  # lone surrogates included
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
client_id = st.text(string.ascii_letters + string.digits + "_-", min_size=8, max_size=64)
composer_frame = st.fixed_dictionaries(
    {"content": text | st.text(max_size=4100) | json_value, "client_id": client_id | json_value},
    optional={
        "HEADERS": json_value,
        "csrf_token": json_value,
        "room_id": json_value,
        "author_id": json_value,
        "type": json_value,
    },
)
frames = (
    composer_frame.map(json.dumps)
    | json_value.map(json.dumps)
    | st.text(max_size=500)
    # An empty binary frame cannot go through the test client; tests/test_server.py sends one.
    | st.binary(min_size=1, max_size=300)
)


def _as_dict(frame: str) -> dict[str, Any]:
    try:
        data = json.loads(frame)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def reset_limits(app: Quart) -> None:
    app.extensions.pop("limiters", None)


@FUZZ
@given(frame=frames)
async def test_any_frame_gets_an_answer_and_never_stores_garbage(
    app: Quart, alice_client: QuartClient, alice: User, general: Room, frame: str | bytes
) -> None:
    reset_limits(app)
    # Heartbeats and typing signals are answered by silence, on purpose.
    assume(not (isinstance(frame, str) and {"heartbeat", "typing"} & set(_as_dict(frame))))
    async with alice_client.websocket("/rooms/general/live", headers={"Origin": ORIGIN}) as ws:
        await ws.send(frame)
        assert_inert(await answer(ws))
        # The socket is still usable afterwards.
        await ws.send('{"HEADERS": {}}')
        assert "Unknown request" in await answer(ws, ("Unknown request",))
    assert_valid_messages(await Message.all(), general.id, alice.id)


form_text = st.text(st.characters(codec=None), max_size=5000)  # sent as (invalid) UTF-8


@FUZZ
@given(content=form_text, client_id=client_id | form_text, extra=st.dictionaries(text, text))
async def test_any_composer_post_is_stored_clean_or_refused_clearly(
    app: Quart,
    alice_client: QuartClient,
    alice: User,
    general: Room,
    content: str,
    client_id: str,
    extra: dict[str, Any],
) -> None:
    reset_limits(app)
    fields = extra | {"content": content, "client_id": client_id}
    response = await post_form(alice_client, "/rooms/general", "/rooms/general/messages", fields)
    assert response.status_code in {303, 422}
    if response.status_code == 422:
        page = await response.get_data(as_text=True)
        assert 'id="composer-error"' in page
        assert_inert(page)
    assert_valid_messages(await Message.all(), general.id, alice.id)


@settings(FUZZ, max_examples=15)  # each attempt hashes a password on purpose (argon2)
@given(username=form_text, password=form_text)
async def test_any_login_or_sign_up_answers_clearly(
    app: Quart, client: QuartClient, username: str, password: str
) -> None:
    reset_limits(app)
    fields = {"username": username, "password": password}
    login = await post_form(client, "/login", "/login", fields)
    assert login.status_code == 401
    assert "Wrong username or password." in await login.get_data(as_text=True)
    signup = await post_form(client, "/register", "/register", fields)
    assert signup.status_code in {303, 422}
    assert_inert(await signup.get_data(as_text=True))
    for user in await User.all():
        assert user.username.isascii() and user.username == user.username.strip().lower()
    await User.all().delete()  # so a later example's login cannot find this one's account
