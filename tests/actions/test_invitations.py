"""Invitation links: made by admins, stored hashed, spent once per sign-up, atomically."""

from __future__ import annotations

import asyncio
import contextvars
from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from tortoise.transactions import in_transaction

from chat_app.actions import AccountError, create_invitation, register_user, revoke_invitation
from chat_app.actions.accounts import RegistrationClosed, sign_up
from chat_app.actions.invitations import (
    InvitationError,
    InvitationInvalid,
    InvitationSpent,
    NotAnAdmin,
    spend_invitation,
    usable_invitation,
)
from chat_app.models import Invitation, User
from chat_app.models.invitations import InvitationState
from tests.conftest import PASSWORD

HOSTILE_CODES = [
    "",
    "short",
    "x" * 10_000,
    "A" * 58 + "\x00",
    "A" * 58 + "\n",
    "A" * 30 + "\u202e" + "A" * 28,
    "A" * 30 + "\ud800" + "A" * 28,
    "../../etc/passwd" + "A" * 43,
    "A" * 59,  # well-formed, but no such invitation
]


@pytest.fixture
async def admin(app: Quart) -> User:
    return await register_user("ada", PASSWORD, is_admin=True)


async def invitation(app: Quart, admin: User | None, uses: int = 1, days: int = 7) -> str:
    async with app.app_context():
        _, code = await create_invitation(admin, uses, days)
    return code


async def test_a_code_is_long_random_and_only_its_hash_is_stored(app: Quart, admin: User) -> None:
    async with app.app_context():
        made, code = await create_invitation(admin)
        _, other = await create_invitation(admin)
    assert len(code) == 59 and code != other
    row = await Invitation.get(id=made.id)
    assert code not in (row.selector, row.verifier_hash) and code[16:] not in row.verifier_hash
    assert row.max_uses == app.config["INVITATION_USES"] and row.uses == 0
    assert row.created_by_id == admin.id
    days = (row.expires_at - datetime.now(UTC)) / timedelta(days=1)
    assert app.config["INVITATION_DAYS"] - 0.01 < days <= app.config["INVITATION_DAYS"]
    assert (await usable_invitation(code)).id == made.id


async def test_a_forged_verifier_with_a_real_selector_is_unknown(app: Quart, admin: User) -> None:
    code = await invitation(app, admin)
    forged = code[:16] + ("B" if code[16] != "B" else "C") + code[17:]
    with pytest.raises(InvitationInvalid):
        await usable_invitation(forged)


@pytest.mark.parametrize("code", HOSTILE_CODES, ids=lambda c: ascii(c[:20]) + f"({len(c)})")
async def test_bad_codes_are_refused_and_change_nothing(app: Quart, admin: User, code: str) -> None:
    real = await invitation(app, admin)
    with pytest.raises(InvitationInvalid, match="not valid"):
        await usable_invitation(code)
    with pytest.raises(InvitationInvalid):
        await register_user("carol", PASSWORD, invitation=code)
    assert not await User.exists(username="carol")
    assert (await usable_invitation(real)).uses == 0


async def test_only_admins_make_and_revoke_invitations(app: Quart, admin: User) -> None:
    bob = await register_user("bob", PASSWORD)
    async with app.app_context():
        with pytest.raises(NotAnAdmin):
            await create_invitation(bob)
        made, _ = await create_invitation(admin)
    with pytest.raises(NotAnAdmin):
        await revoke_invitation(bob, made.id)
    assert await Invitation.all().count() == 1
    assert (await Invitation.get(id=made.id)).revoked_at is None


@pytest.mark.parametrize(
    ("uses", "days"),
    [(0, 7), (10_001, 7), ("-1", 7), ("1e3", 7), ("٣", 7), (True, 7), (1, 0), (1, 366), (1, "x")],
)
async def test_bad_counts_are_refused_and_change_nothing(
    app: Quart, admin: User, uses: object, days: object
) -> None:
    async with app.app_context():
        with pytest.raises(InvitationError, match="whole number"):
            await create_invitation(admin, uses, days)
    assert not await Invitation.exists()


async def test_each_sign_up_spends_one_use_until_none_is_left(app: Quart, admin: User) -> None:
    code = await invitation(app, admin, uses=2)
    await register_user("carol", PASSWORD, invitation=code)
    assert (await usable_invitation(code)).uses_left == 1
    await register_user("dave", PASSWORD, invitation=code)
    with pytest.raises(InvitationSpent, match="used as many times") as spent:
        await register_user("erin", PASSWORD, invitation=code)
    assert spent.value.status == 410 and "Ask ada" in str(spent.value)
    assert not await User.exists(username="erin")
    assert (await Invitation.get()).uses == 2


async def test_a_failed_sign_up_gives_its_use_back(app: Quart, admin: User) -> None:
    code = await invitation(app, admin)
    with pytest.raises(AccountError, match="taken"):
        await register_user("ada", PASSWORD, invitation=code)
    assert (await usable_invitation(code)).uses == 0
    with pytest.raises(AccountError, match="Passwords"):
        await register_user("carol", "short", invitation=code)
    assert (await usable_invitation(code)).uses == 0


async def test_two_people_racing_for_the_last_use_one_gets_in(app: Quart, admin: User) -> None:
    code = await invitation(app, admin, uses=1)
    results = await asyncio.gather(
        *(register_user(name, PASSWORD, invitation=code) for name in ("carol", "dave", "erin")),
        return_exceptions=True,
    )
    joined = [r for r in results if isinstance(r, User)]
    refused = [r for r in results if isinstance(r, InvitationSpent)]
    assert len(joined) == 1 and len(refused) == 2, results
    assert await User.filter(username__in=["carol", "dave", "erin"]).count() == 1
    assert (await Invitation.get()).uses == 1


async def test_a_sign_up_waits_for_one_in_flight_then_finds_the_use_gone(
    app: Quart, admin: User
) -> None:
    code = await invitation(app, admin, uses=1)
    async with in_transaction():
        await spend_invitation(code)  # the first sign-up, not committed yet
        # A fresh context: the racer must not join this transaction (tasks copy contextvars).
        racer = asyncio.create_task(
            register_user("dave", PASSWORD, invitation=code), context=contextvars.Context()
        )
        await asyncio.sleep(0.5)
        assert not racer.done()  # it waits for the first to commit or roll back
    with pytest.raises(InvitationSpent, match="used as many times"):
        await racer
    assert not await User.exists(username="dave")
    assert (await Invitation.get()).uses == 1


async def test_an_expired_invitation_lets_nobody_in(app: Quart, admin: User) -> None:
    code = await invitation(app, admin, uses=5)
    await Invitation.all().update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(InvitationSpent, match="expired on") as spent:
        await register_user("carol", PASSWORD, invitation=code)
    assert spent.value.state is InvitationState.EXPIRED
    assert not await User.exists(username="carol")
    assert (await Invitation.get()).uses == 0


async def test_a_revoked_invitation_lets_nobody_in(app: Quart, admin: User) -> None:
    code = await invitation(app, admin, uses=5)
    made = await Invitation.get()
    assert await revoke_invitation(admin, made.id) is True
    assert await revoke_invitation(admin, str(made.id)) is False  # idempotent
    with pytest.raises(InvitationSpent, match="withdrawn"):
        await register_user("carol", PASSWORD, invitation=code)
    assert not await User.exists(username="carol")


@pytest.mark.parametrize("bad", [0, -1, "x", "1" * 40, str(2**31), None, True, "\x00"])
async def test_revoking_what_does_not_exist_is_refused(
    app: Quart, admin: User, bad: object
) -> None:
    with pytest.raises(InvitationError, match="no such invitation"):
        await revoke_invitation(admin, bad)


async def test_an_invitation_from_the_command_line_names_no_one(app: Quart) -> None:
    code = await invitation(app, None)
    await register_user("carol", PASSWORD, invitation=code)
    with pytest.raises(InvitationSpent, match="Ask an administrator"):
        await register_user("dave", PASSWORD, invitation=code)


async def test_the_first_account_of_an_empty_database_is_an_admin(app: Quart) -> None:
    first = await register_user("carol", PASSWORD, admin_if_first=True)
    second = await register_user("dave", PASSWORD, admin_if_first=True)
    assert first.is_admin and not second.is_admin
    assert not (await register_user("erin", PASSWORD)).is_admin  # fixtures stay plain users


async def test_two_first_sign_ups_at_once_make_one_admin(app: Quart) -> None:
    users = await asyncio.gather(
        *(register_user(f"user{n}", PASSWORD, admin_if_first=True) for n in range(4))
    )
    assert [user.is_admin for user in users].count(True) == 1
    assert await User.filter(is_admin=True).count() == 1


async def test_sign_up_follows_the_registration_setting(
    app: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = await invitation(app, None, uses=5)
    async with app.app_context():
        monkeypatch.setitem(app.config, "REGISTRATION", "invite")
        with pytest.raises(RegistrationClosed, match="needs an invitation"):
            await sign_up("carol", PASSWORD, None)
        assert (await sign_up("carol", PASSWORD, None, code)).is_admin  # the first account
        monkeypatch.setitem(app.config, "REGISTRATION", "closed")
        with pytest.raises(RegistrationClosed, match="closed"):
            await sign_up("dave", PASSWORD, None, code)
        monkeypatch.setitem(app.config, "REGISTRATION", "open")
        assert not (await sign_up("dave", PASSWORD, None)).is_admin
    assert await User.all().count() == 2
    assert (await Invitation.get()).uses == 1
