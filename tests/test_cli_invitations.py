"""The `invite` and `revoke-invitation` tasks, and the first account the CLI makes."""

from __future__ import annotations

import re

from quart import Quart

from chat_app.actions import register_user
from chat_app.actions.invitations import usable_invitation
from chat_app.models import Invitation, User
from tests.conftest import PASSWORD
from tests.test_cli import run

LINK = re.compile(r"^http://127\.0\.0\.1:8000/join/([A-Za-z0-9_-]{59})$", re.M)


async def test_invite_prints_a_link_that_works(app: Quart) -> None:
    result = await run(app, "invite", "--uses", "3", "--days", "2")
    assert result.exit_code == 0, result.output
    link = LINK.search(result.output)
    assert link, result.output
    invitation = await usable_invitation(link.group(1))
    assert invitation.max_uses == 3 and invitation.created_by is None
    assert f"Invitation {invitation.id}: 3 use(s)" in result.output
    await register_user("carol", PASSWORD, invitation=link.group(1))
    assert (await Invitation.get()).uses == 1


async def test_invite_defaults_and_names_an_admin_inviter(app: Quart) -> None:
    ada = await register_user("ada", PASSWORD, is_admin=True)
    result = await run(app, "invite", "--by", "ADA")
    assert result.exit_code == 0, result.output
    invitation = await Invitation.get()
    assert invitation.created_by_id == ada.id
    assert invitation.max_uses == app.config["INVITATION_USES"]


async def test_invite_refuses_bad_input_and_makes_nothing(app: Quart) -> None:
    await register_user("bob", PASSWORD)
    for args in (
        ["--uses", "0"],
        ["--uses", "x"],
        ["--days", "366"],
        ["--by", "nobody"],
        ["--by", "bob"],  # not an admin
    ):
        result = await run(app, "invite", *args)
        assert result.exit_code != 0, args
        assert "Traceback" not in result.output
    assert "Only workspace administrators" in (await run(app, "invite", "--by", "bob")).output
    assert not await Invitation.exists()


async def test_revoke_invitation(app: Quart) -> None:
    await run(app, "invite")
    invitation = await Invitation.get()
    first = await run(app, "revoke-invitation", str(invitation.id))
    assert first.exit_code == 0 and "Revoked" in first.output
    again = await run(app, "revoke-invitation", str(invitation.id))
    assert again.exit_code == 0 and "already revoked" in again.output
    missing = await run(app, "revoke-invitation", "12345")
    assert missing.exit_code != 0 and "no such invitation" in missing.output


async def test_create_user_on_an_empty_database_makes_the_admin(app: Quart) -> None:
    result = await run(app, "create-user", "carol", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0 and "the first account: an administrator" in result.output
    result = await run(app, "create-user", "dave", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0 and "Created user 'dave'" in result.output
    assert [u.username for u in await User.filter(is_admin=True)] == ["carol"]
