"""What the form handlers of the message pages share: where to go back to, and how an
action's refusal is answered (the same words for htmx, plain forms and pages)."""

from __future__ import annotations

from typing import NoReturn

from quart import Response, abort, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions import MessageNotFound, MessageRejected, NotAllowed
from chat_app.actions.changes import changeable
from chat_app.models import Message, User
from chat_app.security import local_path, own_origin


def from_htmx() -> bool:
    """Whether htmx sent this request (it then wants a fragment or nothing, not a page)."""
    return request.headers.get("HX-Request") == "true"


def back_to(default: str, sent: str | None = None) -> str:
    """Where "back to where you were" is: ``sent`` (a form's ``next``), else the page the
    request came from, when either is on this site; else ``default``."""
    referrer = request.headers.get("Referer", "")
    origin = own_origin(request.scheme, request.host)
    from_here = referrer[len(origin) :] if referrer.startswith(origin + "/") else None
    return local_path(sent) or local_path(from_here) or default


def done(target: str) -> Response | WerkzeugResponse:
    """The answer to a change that worked: htmx gets 204 (the change arrives on the socket
    like everyone else's), a plain form goes back (303)."""
    if from_htmx():
        return Response(status=204)
    return redirect(target, 303)


def refuse(error: MessageRejected) -> NoReturn:
    """Answer a refused change with its reason: 404 for a message one cannot see, 403 for
    one that is not theirs to change, 422 for bad input."""
    if isinstance(error, MessageNotFound):
        abort(404, str(error))
    if isinstance(error, NotAllowed):
        abort(403, str(error))
    abort(422, str(error))


async def message_or_refuse(user: User, message_id: int) -> Message:
    """The message as ``changeable`` loads it (its room open to ``user``), or the refusal."""
    try:
        return await changeable(user, message_id)
    except MessageRejected as error:
        refuse(error)
