"""Registering and authenticating."""

from __future__ import annotations

import pytest
from quart import Quart

from chat_app.actions import AccountError, authenticate, register_user
from chat_app.models import Membership, User
from tests.conftest import PASSWORD


async def test_new_user_joins_the_default_room(app: Quart) -> None:
    user = await register_user("Carol", PASSWORD)
    assert user.username == "carol"
    assert await Membership.filter(user=user, room__slug="general").exists()
    assert user.password_hash.startswith("$argon2")


async def test_usernames_are_unique_case_insensitively(alice: User) -> None:
    with pytest.raises(AccountError, match="taken"):
        await register_user("ALICE", PASSWORD)


@pytest.mark.parametrize("name", ["a", "<script>", "x" * 33, "white space", "-dash", "ünï"])
async def test_bad_usernames_are_refused(app: Quart, name: str) -> None:
    with pytest.raises(AccountError, match="Usernames"):
        await register_user(name, PASSWORD)


async def test_short_password_is_refused(app: Quart) -> None:
    with pytest.raises(AccountError, match="Passwords"):
        await register_user("carol", "short")


async def test_wrong_password_and_unknown_user_get_the_same_error(app: Quart, alice: User) -> None:
    async with app.app_context():  # the login throttle lives on the app
        with pytest.raises(AccountError) as wrong:
            await authenticate("alice", "not the password")
        with pytest.raises(AccountError) as unknown:
            await authenticate("nobody", PASSWORD)
        assert str(wrong.value) == str(unknown.value)
        assert (await authenticate(" Alice ", PASSWORD)).id == alice.id


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice\x00", PASSWORD),
        ("al\ud800ice", PASSWORD),
        ("alice", "pass\ud800word"),
        ("x" * 1_000_000, "y" * 1_000_000),
    ],
)
async def test_hostile_credentials_get_the_vague_error_not_a_crash(
    app: Quart, alice: User, username: str, password: str
) -> None:
    async with app.app_context():
        with pytest.raises(AccountError, match="Wrong username or password"):
            await authenticate(username, password)


async def test_a_lone_surrogate_password_can_be_registered_and_used(app: Quart) -> None:
    user = await register_user("carol", "pass\ud800word")
    async with app.app_context():
        assert (await authenticate("carol", "pass\ud800word")).id == user.id
