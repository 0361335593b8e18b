"""Rendering stays on the event loop and out of Jinja's async mode, with Quart's context."""

from __future__ import annotations

import inspect

from quart import Quart
from quart import render_template as quart_render_template  # noqa: TID251 - the comparison

from chat_app.actions.messages import post_message
from chat_app.actions.reactions import toggle_reaction
from chat_app.models import Room, User
from chat_app.models.messages import latest
from chat_app.templating import render_template


def test_context_processors_are_coroutine_functions(app: Quart) -> None:
    # Quart runs a plain function through its thread pool on every render.
    for functions in app.template_context_processors.values():
        assert all(inspect.iscoroutinefunction(f) for f in functions), functions


async def test_messages_render_exactly_as_in_jinjas_async_mode(
    app: Quart, alice: User, bob: User, general: Room
) -> None:
    async with app.test_request_context("/"):
        first = await post_message(alice, general, "**bold** `x` <script>x</script>", "c-00000001")
        await post_message(bob, general, "@alice see https://example.com", "c-00000002", first.id)
        await toggle_reaction(bob, first.id, "👍")
        messages = await latest(general.id, 50)
        context = {"messages": messages, "viewer_id": alice.id, "csrf": "t", "first_unread": None}
        ours = await render_template("messages/_list.html", **context)
        quarts = await quart_render_template("messages/_list.html", **context)
    assert ours == quarts
    assert f'id="message-{first.id}"' in ours and "&lt;script&gt;" in ours


async def test_renders_get_what_the_context_processors_add(app: Quart) -> None:
    async def adds_next() -> dict[str, str]:
        return {"next": "/rooms/from-a-processor"}

    app.template_context_processors[None].append(adds_next)
    try:
        async with app.test_request_context("/login"):
            html = await render_template("auth/login.html", error=None, username="")
    finally:
        app.template_context_processors[None].remove(adds_next)
    assert 'name="next" value="/rooms/from-a-processor"' in html


async def test_a_global_added_after_start_reaches_the_synchronous_twin(app: Quart) -> None:
    app.jinja_env.globals["added_later"] = "late"
    try:
        twin = app.extensions["sync_jinja"]
        assert twin.from_string("{{ added_later }}").render() == "late"
        assert not twin.is_async and app.jinja_env.is_async
    finally:
        del app.jinja_env.globals["added_later"]
