"""Origin checks, CSRF protection for forms, and security headers."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from hmac import compare_digest
from typing import Any, cast
from urllib.parse import urlsplit

from itsdangerous import BadSignature
from quart import Quart, Response, abort, current_app, g, request, session
from quart.sessions import SecureCookieSession, SecureCookieSessionInterface
from quart.wrappers import BaseRequestWebsocket, Websocket

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_EXEMPT_MARK = "_csrf_exempt"
CSRF_HEADER = "X-CSRF-Token"
AUTH_COOKIE = "parley_session"  # quart-auth's cookie (chat_app.auth)
CSRF_COOKIE = "parley_csrf"  # Quart's session cookie, which holds the CSRF token

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def own_origin(scheme: str, host: str) -> str:
    """The origin a page served at ``scheme://host`` has (ws→http, wss→https)."""
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    return f"{scheme}://{host}".lower()


def origin_allowed(origin: str | None, scheme: str, host: str) -> bool:
    """Exact match against our own origin or one listed in ``CHAT_ALLOWED_ORIGINS``."""
    if not origin:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or parts.path or parts.query or parts.fragment:
        return False
    origin = origin.lower()
    allowed = {o.strip().lower() for o in current_app.config["ALLOWED_ORIGINS"].split(",")}
    return origin == own_origin(scheme, host) or origin in allowed


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site ("/rooms/x"), else None: never "//evil", "/\\evil"
    or a URL elsewhere, so a link or a form cannot be made to send anyone off-site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target if target.isprintable() and len(target) <= 2000 else None


def client_address() -> str:
    """The client's IP address, for per-address limits.

    ``X-Forwarded-For`` is trusted only with ``CHAT_TRUSTED_PROXIES=n`` (the number of proxies
    in front of us): then the entry the n-th proxy appended is the client. Without it anyone
    could claim any address and escape the limits.
    """
    hops: int = current_app.config["TRUSTED_PROXIES"]
    if hops > 0:
        chain = ",".join(request.headers.getlist("X-Forwarded-For")).split(",")
        forwarded = [hop.strip() for hop in chain if hop.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return request.remote_addr or "unknown"


def csrf_token() -> str:
    """This browser's CSRF token (kept in the signed Quart session cookie)."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def socket_csrf_token(session_cookie: str | None) -> str:
    """The CSRF token in a websocket's session cookie, as its handshake sent it ("" if none)."""
    sessions = cast(CsrfSessions, current_app.session_interface)
    opened = sessions.load(current_app, session_cookie)
    token = None if opened is None else opened.get(CSRF_FIELD)
    return token if isinstance(token, str) else ""


def rotate_csrf_token() -> None:
    """A new token at login and logout, so one captured before does not carry over."""
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


class CsrfSessions(SecureCookieSessionInterface):
    """Quart's signed-cookie session, which holds the CSRF token, not opened for websockets:
    a handshake unsigned its cookie for nothing (5 % of a connect's CPU in a storm), since a
    socket needs the token only to hand back a rejected composer. It reads it then, with
    ``load`` on the cookie it kept."""

    async def open_session(
        self, app: Quart, request: BaseRequestWebsocket
    ) -> SecureCookieSession | None:
        if isinstance(request, Websocket):
            return None  # Quart makes a null session: one that refuses to be written
        return self.load(app, request.cookies.get(self.get_cookie_name(app)))

    def load(self, app: Quart, cookie: str | None) -> SecureCookieSession | None:
        """The session in ``cookie`` (empty when it is missing, forged or expired)."""
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None  # no secret key
        if cookie is None:
            return self.session_class()
        try:
            lifetime = int(app.permanent_session_lifetime.total_seconds())
            return self.session_class(signer.loads(cookie, max_age=lifetime))
        except BadSignature:
            return self.session_class()


def csrf_exempt[View: Callable[..., Any]](view: View) -> View:
    """Mark a view that acts on no cookie's authority (so a forged request gains nothing):
    the CSRF check asks it for no token."""
    setattr(view, CSRF_EXEMPT_MARK, True)
    return view


async def check_csrf() -> None:
    """Refuse a state-changing request that is cross-site or lacks this browser's token."""
    if request.method not in UNSAFE_METHODS or g.get("api_token") is not None:
        return  # a bearer token is never sent by a browser on its own: nothing to forge
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in {"same-origin", "none"}:
        abort(403, "Cross-site request refused.")
    origin = request.headers.get("Origin")
    if origin is not None and not origin_allowed(origin, request.scheme, request.host):
        abort(403, "Cross-site request refused.")
    if request.path.startswith("/api/") and AUTH_COOKIE not in request.cookies:
        return  # signed in by nothing: nothing to forge, and the API answers 401
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, CSRF_EXEMPT_MARK, False):
        return  # same-site still required above; no token, since no cookie counts here
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }:
        sent = (await request.form).get(CSRF_FIELD)
    expected = session.get(CSRF_FIELD)
    if not sent or not isinstance(expected, str) or not compare_digest(sent, expected):
        abort(403, "This form has expired or did not come from this site; reload and retry.")


async def add_security_headers(response: Response) -> Response:
    """Headers every response carries."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def init_security(app: Quart) -> None:
    """Install the CSRF session and check and the headers on ``app``."""
    app.session_interface = CsrfSessions()
    app.before_request(check_csrf)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
