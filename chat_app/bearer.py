"""``Authorization: Bearer …`` on /api/: who is asking, with which scope, within which limit.

A request that carries a token is judged by the token alone (a cookie beside it counts for
nothing) and needs no CSRF token: a script has no page to take one from, and a browser never
attaches a bearer token by itself, so there is no cross-site request to forge.
"""

from __future__ import annotations

import logging
import math
import re

from quart import Quart, current_app, g, request
from quart_auth import QuartAuth

from chat_app import metrics
from chat_app.actions.limits import shared_limiter
from chat_app.actions.tokens import note_use
from chat_app.auth import Viewer
from chat_app.errors import ApiError
from chat_app.logs import log_event
from chat_app.models import ApiToken
from chat_app.models.tokens import TOKEN_PREFIX, token_by_secret
from chat_app.security import UNSAFE_METHODS

log = logging.getLogger(__name__)

# What our tokens look like: anything else is refused before the database is asked.
TOKEN_RE = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")
CHALLENGE = 'Bearer realm="api"'


def _refuse(message: str) -> ApiError:
    return ApiError(
        401,
        "invalid_token",
        message,
        {"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
    )


def request_token() -> ApiToken | None:
    """The token this request was authenticated with, or None (a cookie, or nobody)."""
    token: ApiToken | None = g.get("api_token")
    return token


async def authenticate_bearer() -> None:
    """Sign the request in as its token's user, or refuse it (401, 403 or 429)."""
    if not request.path.startswith("/api/"):
        return
    headers = request.headers.getlist("Authorization")
    if not headers:
        return
    if len(headers) > 1:
        raise _refuse("Send one Authorization header.")
    scheme, _, secret = headers[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        raise _refuse("Use 'Authorization: Bearer <token>'.")
    secret = secret.strip()
    token = await token_by_secret(secret) if TOKEN_RE.fullmatch(secret) else None
    if token is None:
        raise _refuse("This token is not valid: it may have expired or been revoked.")
    if request.method in UNSAFE_METHODS and not token.writes:
        raise ApiError(
            403,
            "insufficient_scope",
            "This token can only read; make a read-write token to change things.",
            {"WWW-Authenticate": f'{CHALLENGE}, error="insufficient_scope"'},
        )
    await _spend_request(token)
    g.api_token = token
    auth: QuartAuth = current_app.extensions["QUART_AUTH"][0]
    auth.login_user(Viewer.of(token.user))  # for this request only: no cookie is written
    await note_use(token)


async def _spend_request(token: ApiToken) -> None:
    """One of the token's requests per second, or 429 with Retry-After."""
    cfg = current_app.config
    limiter = shared_limiter(
        "api_tokens", cfg["API_REQUESTS_PER_SECOND"], cfg["API_REQUESTS_BURST"]
    )
    wait = await limiter.take(token.id)
    if wait:
        metrics.RATE_LIMITED.inc()
        log_event(log, "rate_limited", logging.WARNING, token=token.id)
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "rate_limited",
            f"This token is making too many requests; try again in {seconds} s.",
            {"Retry-After": str(seconds)},
        )


def init_bearer(app: Quart) -> None:
    """Install token authentication on ``app`` (before the CSRF check, which it exempts)."""
    app.before_request(authenticate_bearer)
