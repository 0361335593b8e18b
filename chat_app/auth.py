"""Who is asking: quart-auth's cookie names a server-side session row."""

from __future__ import annotations

from typing import cast

from quart import abort
from quart_auth import Action, AuthUser, QuartAuth, current_user

from chat_app.models import Room, User
from chat_app.models.rooms import room_for_member, rooms_of, session_member_room
from chat_app.models.users import session_user
from chat_app.security import AUTH_COOKIE


class Viewer(AuthUser):
    """The signed-in user behind the cookie, loaded once per request or socket."""

    def __init__(self, auth_id: str | None, action: Action = Action.PASS) -> None:
        super().__init__(auth_id, action)
        self._user: User | None = None
        self._loaded = False

    @classmethod
    def of(cls, user: User) -> Viewer:
        """A viewer who is ``user`` already (a request signed in by token, not cookie)."""
        viewer = cls(None)
        viewer.knows(user)
        return viewer

    def knows(self, user: User) -> None:
        """``user`` is the session's, found by a query that asked for more."""
        self._user, self._loaded = user, True

    async def user(self) -> User | None:
        """The active user of an unexpired session, or None."""
        if not self._loaded:
            self._loaded = True
            if self.auth_id is not None:
                self._user = await session_user(self.auth_id)
        return self._user

    @property
    async def is_authenticated(self) -> bool:
        return await self.user() is not None


def make_auth(cookie_secure: bool, session_days: int) -> QuartAuth:
    """quart-auth configured from our settings (lifetime, Secure flag)."""
    return QuartAuth(
        cookie_secure=cookie_secure,
        cookie_samesite="Lax",
        duration=session_days * 24 * 3600,
        cookie_name=AUTH_COOKIE,
        user_class=Viewer,
    )


def current_viewer() -> Viewer:
    """quart-auth's ``current_user``, typed as what it is here."""
    return cast(Viewer, current_user)


async def viewer_user() -> User:
    """The signed-in user, or 401 (use after ``login_required``)."""
    user = await current_viewer().user()
    if user is None:
        abort(401)
    return user


async def room_or_404(user: User, slug: str) -> Room:
    """The room ``slug`` seen through ``user``'s membership: outsiders get 404, not 403."""
    room = await room_for_member(user.id, slug)
    if room is None:
        abort(404)
    return room


async def member_in_room_or_refused(slug: str) -> tuple[User, Room]:
    """The signed-in user and the room ``slug`` seen through their membership, in one query
    where both are right (a websocket handshake: ``login_required`` would cost a query of
    its own); otherwise 401 without a valid session, and 404 for outsiders."""
    viewer = current_viewer()
    found = None if viewer.auth_id is None else await session_member_room(viewer.auth_id, slug)
    if found is None:
        await viewer_user()  # 401 when the session is what is wrong
        abort(404)
    user, room = found
    viewer.knows(user)
    return user, room


async def rooms_or_404(user: User, slug: str) -> tuple[Room, list[Room]]:
    """The room ``slug`` seen through ``user``'s membership, and all of the user's rooms by
    name (a page's sidebar), in one query: the user's rooms include ``slug`` exactly when they
    are a member. Outsiders get 404, as from ``room_or_404``."""
    rooms = await rooms_of(user.id)
    for room in rooms:
        if room.slug == slug:
            return room, rooms
    abort(404)
