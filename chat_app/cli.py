"""Operator tasks: ``quart --app chat_app TASK`` or ``python -m chat_app TASK`` (``--help``).

Each task is a thin shell over an action; it runs with the database open and the schema
current. In a process that already serves the app (the tests), a task runs on the serving
loop and reuses its connections instead of opening its own.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import click
from quart import Quart, current_app
from quart.cli import ScriptInfo

from chat_app import ROOT, actions, exports
from chat_app.actions.accounts import (
    deactivate_user,
    normalize_username,
    prune_sessions,
    set_password,
)
from chat_app.actions.attachments import sweep_orphans
from chat_app.actions.bots import BotError, bot_user, create_bot, create_webhook
from chat_app.actions.data_exports import prune_exports
from chat_app.actions.erasure import (
    MODES,
    begin_deletion,
    check_deletable,
    erase_user,
    pending_deletions,
    to_erase,
)
from chat_app.actions.invitations import InvitationError, create_invitation, revoke_invitation
from chat_app.actions.maintenance import count_older_than, purge_messages, retention_cutoff
from chat_app.actions.presence import prune_presence
from chat_app.actions.rooms import RoomError, archive_room, create_room, rename_room
from chat_app.actions.search import rebuild_search_index
from chat_app.actions.seed import seed_demo
from chat_app.actions.tokens import (
    TOKEN_DAYS_MAX,
    TokenError,
    create_token,
    revoke_token,
)
from chat_app.config import MAX_INVITATION_DAYS, MAX_INVITATION_USES
from chat_app.db import (
    DatabaseNotReady,
    apply_migrations,
    close_database,
    open_database,
    require_current_schema,
)
from chat_app.logs import configure_logging
from chat_app.models import Room, User
from chat_app.models.stats import counts
from chat_app.models.tokens import SCOPE_READ, SCOPES, tokens_of
from chat_app.push import generate_vapid_keys
from chat_app.realtime.broker import Broker
from chat_app.realtime.hub import Hub
from chat_app.serve import run
from chat_app.storage import storage_of

SERVING_LOOP = "serving_loop"
Task = Coroutine[Any, Any, None]

password_option = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for when not given (prefer the prompt: arguments show up in `ps`).",
)
batch_option = click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=1000,
    show_default=True,
    help="Rows held in memory at once.",
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(exports.FORMATS), default="jsonl", show_default=True
)
before_option = click.option(
    "--before",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    required=True,
    help="Only messages created before this date (UTC), e.g. 2025-01-01.",
)
room_filter_option = click.option("--room", "room_slug", help="Only this room (default: all).")


def new_file_option(what: str) -> Callable[[Any], Any]:
    """``--output``: a file the task creates (``what`` it is); an existing one is refused."""
    return click.option(
        "--output",
        type=click.Path(dir_okay=False, writable=True, path_type=Path),
        required=True,
        help=f"New {what} to write (an existing one is never overwritten).",
    )


async def _with_database(app: Quart, work: Task) -> None:
    """Open the database and broker around ``work`` in a process that does not serve."""
    await open_database(app.config["DATABASE_URL"])
    broker: Broker = app.extensions["broker"]
    hub: Hub = app.extensions["hub"]
    try:
        await require_current_schema(app.config["DATABASE_URL"])
        # Started so that events (e.g. "close this user's sockets") reach a shared broker.
        await broker.start(hub.deliver, hub.resync)
        async with app.app_context():
            await work
    finally:
        work.close()  # not awaited when the schema check failed: no "never awaited" warning
        await broker.stop()
        await storage_of(app).close()
        await close_database()


async def _in_app_context(app: Quart, work: Task) -> None:
    async with app.app_context():
        await work


def run_in_app(app: Quart, work: Task) -> None:
    """Run ``work``: on the serving loop if this process serves ``app``, else on a new loop."""
    loop: asyncio.AbstractEventLoop | None = app.extensions.get(SERVING_LOOP)
    try:
        if loop is not None and loop.is_running():
            # Tortoise's connections belong to that loop; blocking it from itself would hang.
            if _current_loop() is loop:
                work.close()
                raise click.UsageError("call CLI tasks from another thread than the app's loop")
            asyncio.run_coroutine_threadsafe(_in_app_context(app, work), loop).result()
        else:
            asyncio.run(_with_database(app, work))
    except (
        actions.AccountError,
        BotError,
        InvitationError,
        RoomError,
        TokenError,
        DatabaseNotReady,
    ) as error:
        raise click.ClickException(str(error)) from None


def _current_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def task(fn: Callable[..., Task]) -> Callable[..., None]:
    """Make an async function a click callback that runs inside the app (see ``run_in_app``)."""

    @functools.wraps(fn)
    def callback(*args: Any, **kwargs: Any) -> None:
        app = click.get_current_context().ensure_object(ScriptInfo).load_app()
        run_in_app(app, fn(*args, **kwargs))

    return callback


async def _user(username: str) -> User:
    user = await User.get_or_none(username=normalize_username(username))
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user


async def _room(slug: str) -> Room:
    room = await Room.get_or_none(slug=slug)
    if room is None:
        raise click.ClickException(f"No room {slug!r}.")
    return room


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("create-user")
@click.argument("username")
@password_option
@click.option("--admin", is_flag=True, help="Give the user administrator rights.")
@task
async def create_user(username: str, password: str, admin: bool) -> None:
    """Create a user in the default room. An existing user is left unchanged."""
    if await User.exists(username=normalize_username(username)):
        click.echo(f"User {username!r} already exists; nothing changed.")
        return
    user = await actions.register_user(
        username, password, current_app.config["DEFAULT_ROOM"], is_admin=admin, admin_if_first=True
    )
    first = " (the first account: an administrator)" if user.is_admin and not admin else ""
    click.echo(f"Created {'administrator' if user.is_admin else 'user'} {username!r}{first}.")


@click.command("invite")
@click.option(
    "--uses",
    type=click.IntRange(1, MAX_INVITATION_USES),
    help="People it admits [default: CHAT_INVITATION_USES].",
)
@click.option(
    "--days",
    type=click.IntRange(1, MAX_INVITATION_DAYS),
    help="Days it lasts [default: CHAT_INVITATION_DAYS].",
)
@click.option("--by", "inviter", help="The admin the join page names as inviting (default: none).")
@task
async def invite(uses: int | None, days: int | None, inviter: str | None) -> None:
    """Make an invitation link and print it (under CHAT_PUBLIC_URL); it is shown only once."""
    maker = await _user(inviter) if inviter else None
    invitation, code = await create_invitation(maker, uses, days)
    link = f"{current_app.config['PUBLIC_URL'].rstrip('/')}/join/{code}"
    expires = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    click.echo(f"Invitation {invitation.id}: {invitation.max_uses} use(s), until {expires}.")
    click.echo(link)


@click.command("revoke-invitation")
@click.argument("invitation_id")
@task
async def revoke_invitation_task(invitation_id: str) -> None:
    """Withdraw an invitation link (its number is on the admin page and from `invite`)."""
    changed = await revoke_invitation(None, invitation_id)
    click.echo(
        f"Revoked invitation {invitation_id}."
        if changed
        else f"Invitation {invitation_id} was already revoked."
    )


@click.command("create-token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (shown in lists).")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default=SCOPE_READ,
    show_default=True,
    help="What it may do.",
)
@click.option(
    "--days", type=click.IntRange(1, TOKEN_DAYS_MAX), help="Days it lasts (default: until revoked)."
)
@task
async def create_token_task(username: str, name: str, scope: str, days: int | None) -> None:
    """Make a personal access token for USERNAME and print it: it is shown only this once."""
    token, secret = await create_token(await _user(username), name, scope, days)
    until = token.expires_at.strftime("%Y-%m-%d %H:%M UTC") if token.expires_at else "revoked"
    click.echo(f"Token {token.id} ({token.scope}) for {username!r}, until {until}:")
    click.echo(secret)


@click.command("tokens")
@click.argument("username")
@task
async def list_tokens(username: str) -> None:
    """List USERNAME's personal access tokens (never their secrets)."""
    for token in await tokens_of((await _user(username)).id):
        used = token.last_used_at.strftime("%Y-%m-%d %H:%M") if token.last_used_at else "never"
        click.echo(f"{token.id}\t{token.hint}…\t{token.scope}\tlast used {used}\t{token.name}")


@click.command("revoke-token")
@click.argument("username")
@click.argument("token_id")
@task
async def revoke_token_task(username: str, token_id: str) -> None:
    """Revoke USERNAME's token TOKEN_ID (its number is in `tokens`)."""
    if not await revoke_token(await _user(username), token_id):
        raise click.ClickException(f"{username!r} has no token {token_id}.")
    click.echo(f"Revoked token {token_id}.")


@click.command("create-bot")
@click.argument("name")
@click.option("--room", "rooms", multiple=True, help="A room it joins (repeat for more).")
@task
async def create_bot_task(name: str, rooms: tuple[str, ...]) -> None:
    """Make a bot account NAME, a member of each --room."""
    bot = await create_bot(None, name, list(rooms))
    click.echo(f"Created bot {bot.username!r} (id {bot.id}).")


@click.command("create-webhook")
@click.argument("bot_name")
@click.argument("room_slug")
@task
async def create_webhook_task(bot_name: str, room_slug: str) -> None:
    """Make an incoming webhook posting to ROOM_SLUG as BOT_NAME and print its URL (once)."""
    bot = await bot_user(None, (await _user(bot_name)).id)
    _, secret = await create_webhook(None, bot, room_slug)
    click.echo(f"{current_app.config['PUBLIC_URL'].rstrip('/')}/api/hooks/{secret}")


@click.command("reset-password")
@click.argument("username")
@password_option
@task
async def reset_password(username: str, password: str) -> None:
    """Set a new password and sign the user out everywhere."""
    await set_password(await _user(username), password)
    click.echo(f"Password of {username!r} changed; their sessions were ended.")


@click.command("deactivate-user")
@click.argument("username")
@task
async def deactivate(username: str) -> None:
    """Stop a user signing in and close their open sockets (messages stay)."""
    changed = await deactivate_user(await _user(username))
    click.echo(f"Deactivated {username!r}." if changed else f"{username!r} was already inactive.")


@click.command("create-room")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
@task
async def create_room_task(slug: str, name: str | None) -> None:
    """Create a room. An existing room is left unchanged."""
    _, created = await create_room(slug, name)
    click.echo(f"Created room {slug!r}." if created else f"Room {slug!r} already exists.")


@click.command("rename-room")
@click.argument("slug")
@click.argument("name")
@task
async def rename_room_task(slug: str, name: str) -> None:
    """Change a room's display name; its slug and links stay."""
    await rename_room(await _room(slug), name)
    click.echo(f"Room {slug!r} is now called {name.strip()!r}.")


@click.command("archive-room")
@click.argument("slug")
@task
async def archive_room_task(slug: str) -> None:
    """Mark a room archived (its history stays readable)."""
    changed = await archive_room(await _room(slug))
    click.echo(f"Archived room {slug!r}." if changed else f"Room {slug!r} was already archived.")


@click.command("seed")
@click.option("--users", type=click.IntRange(1, 500), default=5, show_default=True)
@click.option("--messages", type=click.IntRange(0, 10_000_000), default=1000, show_default=True)
@click.option("--room", "room_slug", default="general", show_default=True)
@click.option("--days", type=click.IntRange(1, 3650), default=30, show_default=True)
@click.option("--password", default="demo-password", show_default=True, help="For demo users.")
@task
async def seed(users: int, messages: int, room_slug: str, days: int, password: str) -> None:
    """Add demo users (demo-01, ...) and a message history spread over past days.

    Running it again with the same options adds nothing.
    """
    await create_room(room_slug)  # validates the slug before any user is made
    with click.progressbar(length=messages, label="messages") as bar:
        room, added = await seed_demo(users, messages, room_slug, password, bar.update, days)
    click.echo(f"{users} demo users; {added} messages added to {room.slug!r}.")


@click.command("prune")
@click.option(
    "--presence-age",
    type=click.FloatRange(1),
    default=None,
    help="Seconds without a heartbeat before a socket counts as dead "
    "[default: CHAT_PRESENCE_STALE_SECONDS].",
)
@click.option(
    "--retention-days",
    type=click.IntRange(0),
    default=None,
    help="Delete messages older than this many days (0: none) [default: CHAT_RETENTION_DAYS].",
)
@batch_option
@task
async def prune(presence_age: float | None, retention_days: int | None, batch_size: int) -> None:
    """Delete dead sockets, mark users left without one offline, delete expired sessions and
    exports, finish account deletions a stopped server left, and delete messages past
    retention (through the change log: open tabs see them go). Run it daily from cron."""
    age = presence_age or current_app.config["PRESENCE_STALE_SECONDS"]
    offline = await prune_presence(timedelta(seconds=age))
    sessions = await prune_sessions()
    click.echo(f"Marked {len(offline)} users offline; removed {sessions} expired sessions.")
    click.echo(f"Removed {await prune_exports()} expired exports.")
    for user_id in await pending_deletions():
        erased = await erase_user(user_id)
        click.echo(f"Finished deleting account {user_id} ({erased.messages} messages).")
    days = current_app.config["RETENTION_DAYS"] if retention_days is None else retention_days
    cutoff = retention_cutoff(days)
    if cutoff is None:
        click.echo("Retention is off (CHAT_RETENTION_DAYS=0): messages are kept.")
        return
    with click.progressbar(length=await count_older_than(cutoff), label="messages") as bar:
        deleted = await purge_messages(cutoff, batch_size=batch_size, progress=bar.update)
    click.echo(f"Deleted {deleted} messages older than {days} days.")


@click.command("export-user")
@click.argument("username")
@new_file_option("ZIP file")
@batch_option
@task
async def export_user(username: str, output: Path, batch_size: int) -> None:
    """Write everything one person has here (profile, messages, reactions, files) as the ZIP
    "Export my data" gives them."""
    user = await _user(username)
    try:
        output.open("xb").close()
    except FileExistsError:
        raise click.ClickException(f"{output} exists; choose a new file.") from None
    total = await exports.archive_rows(user.id)
    with click.progressbar(length=total, label="rows", file=sys.stderr) as bar:
        async for rows in exports.user_archive(user, output, batch_size):
            bar.update(rows)
    click.echo(f"Exported {username!r} to {output}.")


@click.command("delete-user")
@click.argument("username")
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default=None,
    help="Remove their messages, or keep them as by 'deleted user' "
    "[default: CHAT_ACCOUNT_DELETION].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Rows per transaction.",
)
@click.confirmation_option(prompt="Delete this account for good?")
@task
async def delete_user(username: str, mode: str | None, batch_size: int) -> None:
    """Delete an account as "Delete my account" does: signed out and sockets closed at once,
    reactions taken back, messages removed or anonymized, rooms left."""
    user = await _user(username)
    await check_deletable(user)
    await begin_deletion(user)
    with click.progressbar(length=await to_erase(user.id), label="rows") as bar:
        erased = await erase_user(user.id, mode, batch_size, bar.update)
    kept = "removed" if erased.mode == "remove" else "kept as 'deleted user'"
    click.echo(
        f"Deleted {username!r}: {erased.messages} messages {kept}, "
        f"{erased.reactions} reactions taken back."
    )


@click.command("sweep-uploads")
@click.option(
    "--grace-hours",
    type=click.FloatRange(0),
    default=None,
    help="Spare files younger than this [default: CHAT_UPLOAD_ORPHAN_HOURS].",
)
@task
async def sweep_uploads(grace_hours: float | None) -> None:
    """Remove uploads never sent with a message, and stored files no row knows."""
    grace = None if grace_hours is None else timedelta(hours=grace_hours)
    swept = await sweep_orphans(grace)
    click.echo(f"Removed {swept.uploads} unsent uploads and {swept.objects} orphaned files.")


@click.command("export-room")
@click.argument("slug")
@format_option
@click.option("--output", type=click.File("w", encoding="utf-8"), default="-", show_default=True)
@batch_option
@task
async def export_room(slug: str, fmt: str, output: TextIO, batch_size: int) -> None:
    """Write a room's whole history, oldest first, streaming in batches."""
    room = await _room(slug)
    written = await exports.export_messages(output, fmt, room.id, batch_size=batch_size)
    click.echo(f"Exported {written} messages of {slug!r}.", err=True)


@click.command("archive-messages")
@before_option
@new_file_option("file for the archive")
@format_option
@room_filter_option
@batch_option
@task
async def archive_messages(
    before: datetime, output: Path, fmt: str, room_slug: str | None, batch_size: int
) -> None:
    """Move old messages to a file, then delete them from the database, batch by batch."""
    room_id = (await _room(room_slug)).id if room_slug else None
    try:
        archive = output.open("x", encoding="utf-8", newline="")
    except FileExistsError:
        raise click.ClickException(f"{output} exists; choose a new file.") from None
    with archive:
        write = exports.batch_writer(archive, fmt)
        moved = await purge_messages(_utc(before), room_id, write, batch_size)
    click.echo(f"Archived {moved} messages to {output}.")


@click.command("purge-messages")
@before_option
@room_filter_option
@batch_option
@click.confirmation_option(prompt="Delete these messages for good?")
@task
async def purge(before: datetime, room_slug: str | None, batch_size: int) -> None:
    """Delete old messages for good (see archive-messages to keep a copy)."""
    room_id = (await _room(room_slug)).id if room_slug else None
    deleted = await purge_messages(_utc(before), room_id, batch_size=batch_size)
    click.echo(f"Deleted {deleted} messages.")


@click.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@task
async def stats(as_json: bool) -> None:
    """Users, rooms, messages, sessions and open connections."""
    numbers = await counts()
    if as_json:
        click.echo(json.dumps(numbers))
    else:
        for name, value in numbers.items():
            click.echo(f"{name:>15}: {value:,}")


@click.command("rebuild-search")
@task
async def rebuild_search() -> None:
    """Build the message search index again from the stored messages (it otherwise follows
    every post, edit and deletion by itself). Safe while serving: on PostgreSQL it does not
    block posts; on SQLite posts wait until it is done."""
    with click.progressbar(length=100, label="search index") as bar:

        def advance(done: int, total: int) -> None:
            bar.update((100 * done // total if total else 100) - bar.pos)

        indexed = await rebuild_search_index(advance)
    click.echo(f"Indexed {indexed:,} messages.")


@click.command("vapid-keys")
@click.option(
    "--subject",
    default="mailto:admin@example.com",
    show_default=True,
    help="How push services reach you: a mailto: or https: URL.",
)
def vapid_keys(subject: str) -> None:
    """Make a VAPID key pair for Web Push and print the settings to put in the environment.

    Changing the keys later invalidates every browser's subscription (each must subscribe
    again), so make them once per installation and keep the private key secret.
    """
    if not subject.startswith(("mailto:", "https://")):
        raise click.BadParameter("must start with mailto: or https://", param_hint="--subject")
    private, public = generate_vapid_keys()
    click.echo(f"CHAT_VAPID_PRIVATE_KEY={private}")
    click.echo(f"CHAT_VAPID_PUBLIC_KEY={public}")
    click.echo(f"CHAT_VAPID_SUBJECT={subject}")


@click.command("migrate")
@click.pass_obj
def migrate(info: ScriptInfo) -> None:
    """Apply database migrations (the same folder serves SQLite and PostgreSQL)."""
    url: str = info.load_app().config["DATABASE_URL"]
    asyncio.run(apply_migrations(url))
    click.echo(f"Migrations applied to {url.split('@')[-1]}")


@click.command("serve")
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", type=int, default=8000, show_default=True)
@click.option("--config", "toml", type=click.Path(path_type=Path), help="hypercorn.toml to read.")
@click.option("--workers", type=click.IntRange(1), help="Processes (default: hypercorn.toml's).")
def serve(host: str, port: int, toml: Path | None, workers: int | None) -> None:
    """Serve HTTP and WebSocket with Hypercorn until SIGTERM (sockets get 1012)."""
    configure_logging()
    sys.exit(run(host, port, toml or ROOT / "hypercorn.toml", workers))


COMMANDS = (
    create_user,
    invite,
    revoke_invitation_task,
    create_token_task,
    list_tokens,
    revoke_token_task,
    create_bot_task,
    create_webhook_task,
    reset_password,
    deactivate,
    create_room_task,
    rename_room_task,
    archive_room_task,
    seed,
    prune,
    sweep_uploads,
    export_room,
    export_user,
    delete_user,
    archive_messages,
    purge,
    stats,
    rebuild_search,
    vapid_keys,
    migrate,
    serve,
)


def init_cli(app: Quart) -> None:
    """Register the tasks on ``app.cli`` and remember the loop the app serves on."""
    for command in COMMANDS:
        app.cli.add_command(command)

    @app.before_serving
    async def remember_loop() -> None:
        app.extensions[SERVING_LOOP] = asyncio.get_running_loop()
