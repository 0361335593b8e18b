"""The membership lookups every handshake and room page makes, run from SQL built once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.queryset import QuerySet

from chat_app.actions.accounts import start_session
from chat_app.models import AuthSession, Membership, Room, User
from chat_app.models.compiled import Compiled
from chat_app.models.rooms import room_for_member, session_member_room
from tests.conftest import queries_made
from tests.hostile import CORPUS


def fields_of(model: Room | User) -> dict[str, object]:
    return {name: getattr(model, name) for name in model._meta.fields_db_projection}


async def test_a_member_gets_the_room_and_user_as_the_orm_reads_them(
    alice: User, general: Room
) -> None:
    general.topic = "Ünïcode <b>topic</b>"
    general.archived_at = datetime.now(UTC).replace(microsecond=0)
    await general.save()
    token = await start_session(alice, days=1)
    await Membership.filter(user=alice, room=general).update(role="admin", notify="all")

    found = await session_member_room(token, "general")

    assert found is not None
    user, room = found
    assert fields_of(user) == fields_of(await User.get(id=alice.id))
    assert fields_of(room) == fields_of(await Room.get(id=general.id))
    assert (room.viewer_role, room.viewer_notify) == ("admin", "all")
    by_id = await room_for_member(alice.id, "general")
    assert by_id is not None and fields_of(by_id) == fields_of(room)
    assert by_id.viewer_role == "admin"


async def test_each_lookup_is_one_query_whose_sql_is_not_built_again(
    alice: User, general: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await start_session(alice, days=1)
    await session_member_room(token, "general")  # built here, if no test built it before
    await room_for_member(alice.id, "general")
    builds: list[object] = []
    make_query = QuerySet._make_query
    monkeypatch.setattr(
        QuerySet, "_make_query", lambda self: builds.append(self) or make_query(self)
    )
    with queries_made() as statements:
        assert await session_member_room(token, "general") is not None
        assert await room_for_member(alice.id, "general") is not None
    assert len(statements) == 2
    assert builds == []


async def test_outsiders_expired_sessions_and_deactivated_users_find_nothing(
    alice: User, bob: User, general: Room
) -> None:
    secret = await Room.create(slug="secret", name="Secret", kind="private")
    await Membership.create(user=alice, room=secret)
    bobs = await start_session(bob, days=1)
    assert await session_member_room(bobs, "secret") is None
    assert await room_for_member(bob.id, "secret") is None
    assert await room_for_member(alice.id, "secret") is not None

    expired = await start_session(alice, days=1)
    await AuthSession.filter(token=expired).update(expires_at=datetime.now(UTC) - timedelta(1))
    assert await session_member_room(expired, "general") is None

    await User.filter(id=bob.id).update(is_active=False)
    assert await session_member_room(bobs, "general") is None


async def test_hostile_tokens_and_slugs_find_nothing(alice: User, general: Room) -> None:
    token = await start_session(alice, days=1)
    for slug in [*CORPUS, "general' OR '1'='1", "%", "_eneral"]:
        assert await session_member_room(token, slug) is None, slug
        assert await room_for_member(alice.id, slug) is None, slug
    for forged in ["' OR '1'='1' --", "%", token[:-1] + "_", token.upper()]:
        assert await session_member_room(forged, "general") is None, forged
    assert await session_member_room(token, "general") is not None  # nothing was harmed


def test_a_marker_that_is_not_one_parameter_is_refused() -> None:
    unused = Compiled(lambda slug: Room.filter(slug="general").first(), markers=("\0slug",))
    with pytest.raises(ValueError, match="is not one parameter"):
        unused._statement("sqlite")
