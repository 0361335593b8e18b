"""The search page: ``GET /search?q=…`` with results newest first and "More results" below;
a complete page that works without JavaScript (the navbar's box submits to it)."""

from __future__ import annotations

from quart import Blueprint, request
from quart_auth import login_required

from chat_app.auth import viewer_user
from chat_app.blueprints.directory import page_frame
from chat_app.blueprints.rooms import cursor_arg
from chat_app.search import Results, SearchError, parse, search
from chat_app.security import csrf_token
from chat_app.templating import render_template

blueprint = Blueprint("search", __name__)

RESULTS_PER_PAGE = 20


@blueprint.get("/search")
@login_required
async def show() -> tuple[str, int]:
    """Results for ``q`` below message ``before``; a clear error (400) for a query that cannot
    be understood, with the text kept in the box to fix."""
    user = await viewer_user()
    text = request.args.get("q", "")
    before = cursor_arg("before")
    frame = await page_frame(user, "Search")
    error, results = None, None
    terms: tuple[str, ...] = ()
    try:
        query = parse(text)
        terms = query.terms
        if not query.is_empty:
            results = await search(user.id, query, before, RESULTS_PER_PAGE)
    except SearchError as problem:
        error = str(problem)
    titles = {r.id: f"# {r.name}" for r in frame["rooms"]}
    titles |= {d.room.id: d.title for d in frame["directs"]}
    html = await render_template(
        "search/show.html",
        **frame,
        search_text=text,
        error=error,
        results=results or Results([], None),
        searched=results is not None,
        matched=terms,
        room_titles=titles,
        csrf=csrf_token(),
    )
    return html, 400 if error else 200
