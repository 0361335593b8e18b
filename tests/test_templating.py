"""Rendering stays on the event loop: no template context processor takes a thread hop."""

from __future__ import annotations

import inspect

from quart import Quart, render_template_string


def test_context_processors_are_coroutine_functions(app: Quart) -> None:
    # Quart runs a plain function through its thread pool on every render.
    for functions in app.template_context_processors.values():
        assert all(inspect.iscoroutinefunction(f) for f in functions), functions


async def test_templates_still_get_the_processors_values(app: Quart) -> None:
    async with app.test_request_context("/"):
        html = await render_template_string(
            "{{ current_user.auth_id is none }} {{ request.path }} {{ session is defined }}"
        )
    assert html == "True / True"
