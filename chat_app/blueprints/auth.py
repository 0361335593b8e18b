"""Register, log in, log out."""

from __future__ import annotations

from quart import Blueprint, current_app, redirect, request, url_for
from quart_auth import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response as WerkzeugResponse

from chat_app.actions import (
    AccountError,
    InvitationError,
    LoginThrottled,
    authenticate,
    end_all_sessions,
    end_session,
    sign_up,
    start_session,
)
from chat_app.actions.accounts import RegistrationClosed, registration_refused
from chat_app.actions.invitations import usable_invitation
from chat_app.auth import Viewer, current_viewer, viewer_user
from chat_app.security import client_address, local_path, rotate_csrf_token
from chat_app.templating import render_template

blueprint = Blueprint("auth", __name__)

Page = str | tuple[str, int] | tuple[str, int, dict[str, str]] | WerkzeugResponse


async def _sign_in(session_token: str, next_path: str | None = None) -> WerkzeugResponse:
    login_user(Viewer(session_token), remember=True)
    rotate_csrf_token()
    default = url_for("rooms.show", slug=current_app.config["DEFAULT_ROOM"])
    return redirect(local_path(next_path) or default, 303)


@blueprint.get("/")
async def index() -> WerkzeugResponse:
    """Signed-in users go to the default room, others to the login form."""
    if await current_user.is_authenticated:
        return redirect(url_for("rooms.show", slug=current_app.config["DEFAULT_ROOM"]))
    return redirect(url_for("auth.login"))


@blueprint.route("/register", methods=["GET", "POST"])
async def register() -> Page:
    """The sign-up form (``?invite=<code>`` carries an invitation); a new user lands in the
    default room. Under ``CHAT_REGISTRATION=invite`` or ``closed`` it says why it takes none."""
    if request.method == "GET":
        invite = request.args.get("invite")
        if invite is not None:
            try:
                await usable_invitation(invite)
            except InvitationError as error:
                return await _bad_invitation(error)
        refused = registration_refused(invite is not None)
        return await render_template("auth/register.html", closed=refused, invite=invite)
    form = await request.form
    username, invite = form.get("username", ""), form.get("invite") or None
    try:
        user = await sign_up(username, form.get("password", ""), client_address(), invite)
    except InvitationError as error:
        return await _bad_invitation(error)
    except RegistrationClosed as error:
        return await render_template("auth/register.html", closed=str(error)), error.status
    except AccountError as error:
        return await _refused("auth/register.html", error, username, 422, invite=invite)
    return await _sign_in(await start_session(user, current_app.config["SESSION_DAYS"]))


@blueprint.get("/join/<code>")
async def join(code: str) -> Page:
    """An invitation link: who invites you to which workspace, and the way to sign up."""
    try:
        invitation = await usable_invitation(code)
    except InvitationError as error:
        return await _bad_invitation(error)
    return await render_template(
        "auth/join.html",
        invitation=invitation,
        code=code,
        closed=registration_refused(True),
        viewer=await current_viewer().user(),
    )


async def _bad_invitation(error: InvitationError) -> Page:
    """A clear page for a bad, used-up, expired or withdrawn invitation (404 or 410)."""
    page = await render_template("auth/invitation_invalid.html", error=error)
    return page, error.status


@blueprint.route("/login", methods=["GET", "POST"])
async def login() -> Page:
    """The sign-in form. ``next`` (a path on this site, nothing else) is where it goes after
    signing in: the page a session ended on; ``expired`` says that it did."""
    if request.method == "GET":
        return await render_template(
            "auth/login.html",
            next=local_path(request.args.get("next")),
            expired="expired" in request.args,
        )
    form = await request.form
    username, next_path = form.get("username", ""), local_path(form.get("next"))
    try:
        user = await authenticate(username, form.get("password", ""), client_address())
    except AccountError as error:
        return await _refused("auth/login.html", error, username, 401, next=next_path)
    session = await start_session(user, current_app.config["SESSION_DAYS"])
    return await _sign_in(session, next_path)


@blueprint.post("/logout")
async def logout() -> WerkzeugResponse:
    """End this browser's session; its row is deleted and its sockets are closed."""
    if current_user.auth_id is not None:
        await end_session(current_user.auth_id)
    return _signed_out()


@blueprint.post("/logout/everywhere")
@login_required
async def logout_everywhere() -> WerkzeugResponse:
    """End every session of this user, on every device, and close all their sockets."""
    await end_all_sessions(await viewer_user())
    return _signed_out()


async def _refused(
    template: str, error: AccountError, username: str, status: int, **context: object
) -> Page:
    """The form again with the reason; a throttled attempt gets 429 and ``Retry-After``."""
    page = await render_template(template, error=error, username=username[:64], **context)
    if isinstance(error, LoginThrottled):
        return page, 429, {"Retry-After": str(error.retry_after)}
    return page, status


def _signed_out() -> WerkzeugResponse:
    logout_user()
    rotate_csrf_token()
    return redirect(url_for("auth.login"), 303)
