"""Fixtures named after people and rooms. The database is real: SQLite or PostgreSQL,
chosen by CHAT_TEST_DATABASE (``make test`` runs the suite once on each)."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path

import asyncpg
import httpx
import pytest
from quart import Quart
from quart.testing import QuartClient
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chat_app import create_app
from chat_app.actions import register_user
from chat_app.db import apply_migrations
from chat_app.models import (
    ApiToken,
    Attachment,
    AuthSession,
    Change,
    ChangeKind,
    DataExport,
    Invitation,
    LinkPreview,
    LiveSocket,
    Membership,
    Mention,
    Message,
    MessagePreview,
    PushSubscription,
    RateBucket,
    Reaction,
    Room,
    User,
    UserPresence,
)
from chat_app.realtime.broker import LISTENER_NAME

pytest_plugins = ["tests.storing"]  # the two storages, as fixtures

DATABASE = os.environ.get("CHAT_TEST_DATABASE", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "CHAT_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("CHAT_REQUIRE_POSTGRES") == "1"
REDIS_URL = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("CHAT_REQUIRE_REDIS") == "1"
ORIGIN = "http://localhost"  # what Quart's test client serves as
PASSWORD = "correct horse battery"


def pytest_report_header() -> str:
    return f"database: {DATABASE}"


@asynccontextmanager
async def new_database(directory: Path, migrated: bool = True) -> AsyncIterator[str]:
    """A database of its own (SQLite file or PostgreSQL database), dropped afterwards."""
    if DATABASE == "sqlite":
        url = f"sqlite://{directory / f'{uuid.uuid4().hex[:10]}.sqlite3'}"
        if migrated:
            await apply_migrations(url)
        yield url
        return
    try:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {error}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message + " (set CHAT_REQUIRE_POSTGRES=1 to fail instead)")
    name = f"parley_test_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        if migrated:
            await apply_migrations(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """An empty database with every migration applied; dropped at the end."""
    async with new_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """The Redis server the Redis broker tests publish through (skipped when absent)."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except RedisError as error:
        message = f"Redis at {REDIS_URL} is not reachable: {error}"
        if REQUIRE_REDIS:
            pytest.fail(message)
        pytest.skip(message + " (set CHAT_REQUIRE_REDIS=1 to fail instead)")
    finally:
        await client.aclose()
    yield REDIS_URL


@pytest.fixture(scope="session")
async def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Quart]:
    """The application, started (database open, broker running; files in a directory of
    the run's own)."""
    # Link previews off: no test reaches outside; the preview tests turn them on (previews_on).
    application = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
            "LINK_PREVIEWS": False,
        }
    )
    async with application.test_app():
        yield application


@pytest.fixture(autouse=True)
async def clean_database(app: Quart) -> AsyncIterator[None]:
    """Every test starts with empty tables and fresh rate limits."""
    yield
    for model in (
        DataExport,
        MessagePreview,
        LinkPreview,
        PushSubscription,
        LiveSocket,
        UserPresence,
        Reaction,
        Mention,
        Change,
        Attachment,
        Message,
        Membership,
        AuthSession,
        ApiToken,
        Room,
        Invitation,
        User,
        RateBucket,  # the limits the PostgreSQL store keeps for real servers on this database
    ):
        await model.all().delete()
    app.extensions.pop("limiters", None)


@pytest.fixture
async def alice(app: Quart) -> User:
    return await register_user("alice", PASSWORD)


@pytest.fixture
async def bob(app: Quart) -> User:
    return await register_user("bob", PASSWORD)


@pytest.fixture
async def general(alice: User) -> Room:
    return await Room.get(slug="general")


@pytest.fixture
def client(app: Quart) -> QuartClient:
    return app.test_client()


def csrf_from(html: str) -> str:
    """The CSRF token a page's form carries."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def log_in(app: Quart, username: str) -> QuartClient:
    """A test client signed in as ``username`` through the real login form."""
    browser = app.test_client()
    page = await (await browser.get("/login")).get_data(as_text=True)
    response = await browser.post(
        "/login",
        form={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 303, await response.get_data(as_text=True)
    return browser


@pytest.fixture
async def alice_client(app: Quart, alice: User) -> QuartClient:
    return await log_in(app, "alice")


@pytest.fixture
async def bob_client(app: Quart, bob: User) -> QuartClient:
    return await log_in(app, "bob")


def send_frame(content: str, client_id: str | None = None) -> str:
    """A frame as htmx's ws extension sends the composer: its fields plus HEADERS."""
    return json.dumps(
        {
            "csrf_token": "ignored-over-the-socket",
            "client_id": client_id or uuid.uuid4().hex,
            "content": content,
            "HEADERS": {"HX-Request": "true", "HX-Trigger": "composer", "HX-Target": None},
        }
    )


@asynccontextmanager
async def broker_replaced_by[B](app: Quart, stand_in: B) -> AsyncIterator[B]:
    """``stand_in`` is the app's broker while inside (in an app context): tests see exactly
    what an action publishes."""
    real = app.extensions["broker"]
    app.extensions["broker"] = stand_in
    try:
        async with app.app_context():
            yield stand_in
    finally:
        app.extensions["broker"] = real


async def fill_room(room: Room, author: User, count: int, prefix: str = "message") -> list[int]:
    """Insert ``count`` messages directly, each with its change (no events); their ids,
    oldest first."""
    ids = []
    for n in range(count):
        message = await Message.create(
            room=room, author=author, content=f"{prefix} {n}", client_id=f"{prefix}-{n:05d}"
        )
        await Change.create(room=room, message_id=message.id, kind=ChangeKind.POSTED)
        ids.append(message.id)
    return ids


# Tortoise logs every statement it sends (at DEBUG, on both backends). A request started in
# a test runs in a task that inherits the test's context, so a context variable tells its
# statements from those of background tasks (housekeeping, broker) that run meanwhile.
_statements: ContextVar[list[str] | None] = ContextVar("statements", default=None)


class _StatementLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        statements = _statements.get()
        if statements is not None:
            statements.append(record.getMessage())


@contextmanager
def queries_made() -> Iterator[list[str]]:
    """The SQL statements sent while inside, by this task and the requests it makes."""
    logger = logging.getLogger("tortoise.db_client")
    handler, level = _StatementLog(), logger.level
    statements: list[str] = []
    token = _statements.set(statements)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield statements
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)
        _statements.reset(token)


# --- a real server process (Hypercorn as deployed) for end-to-end tests ---


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``python -m chat_app serve`` in a subprocess, as deployed; restartable on its port.
    ``module`` serves another app the same way (a test's own, e.g. one that fails on purpose)."""

    def __init__(
        self,
        database_url: str,
        log: Path,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        module: str = "chat_app",
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ws_base = f"ws://127.0.0.1:{self.port}"
        self.log = log
        self.env = (
            os.environ
            | {
                "CHAT_DATABASE_URL": database_url,
                "CHAT_SECRET_KEY": "server-test-secret",
                "CHAT_UPLOAD_DIR": str(log.parent / "uploads"),
                "CHAT_LINK_PREVIEWS": "0",
            }
            | (env or {})
        )
        self.args = list(args)
        self.module = module
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until ``/healthz`` answers."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve", "--port", str(self.port), *self.args],
            env=self.env,
            stdout=self.log.open("ab"),  # a file: a pipe nobody reads would block logging
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: with --workers, the workers stop with it
        )
        for _ in range(300):
            try:
                if httpx.get(f"{self.base}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                pytest.fail(f"server exited early:\n{self.log.read_text()}")
            time.sleep(0.05)
        pytest.fail("server did not become healthy in 15 s")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop with ``sig`` (SIGKILL for a crash); the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
        return self.process.wait(20)


@contextmanager
def serving(
    database_url: str, log: Path, env: dict[str, str] | None = None, module: str = "chat_app"
) -> Iterator[Server]:
    """A started server on ``database_url`` (with extra ``env``), killed afterwards."""
    running = Server(database_url, log, env, module=module)
    try:
        running.start()
        yield running
    finally:
        running.stop(signal.SIGKILL)
        print(running.log.read_text())  # shown by pytest when the test fails


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with serving(database_url, tmp_path / "server.log") as running:
        yield running


@pytest.fixture(params=["postgres", "redis"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Both shared brokers; ``postgres`` alone means LISTEN/NOTIFY on the app's database."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_url"))
    return "postgres"


@pytest.fixture
def channel() -> str:
    """A channel of this test's own, so runs sharing a Redis never hear each other."""
    return f"parley_test_{uuid.uuid4().hex[:10]}"


Cluster = Callable[..., list[Server]]


@pytest.fixture
def cluster(database_url: str, broker_url: str, channel: str, tmp_path: Path) -> Iterator[Cluster]:
    """Start ``n`` nodes on their own ports, sharing the database and the broker."""
    common = {
        "CHAT_BROKER_URL": broker_url,
        "CHAT_BROKER_CHANNEL": channel,
        "CHAT_MESSAGES_PER_SECOND": "1000",
        "CHAT_MESSAGES_BURST": "1000",
        # These tests send 50 frames/s from one socket on purpose: lift the frame gate too.
        "CHAT_WS_FRAMES_PER_SECOND": "1000",
        "CHAT_WS_FRAMES_BURST": "1000",
        # Dozens of sign-ups from one address, and the nodes share one budget for it.
        "CHAT_LOGIN_ADDRESS_BURST": "1000",
        "CHAT_LOGIN_ADDRESS_PER_MINUTE": "100000",
    }
    nodes: list[Server] = []

    def start(n: int, **env: str) -> list[Server]:
        new = [
            Server(database_url, tmp_path / f"node{len(nodes) + i}.log", common | env)
            for i in range(n)
        ]
        nodes.extend(new)
        with ThreadPoolExecutor(n) as pool:  # side by side: each takes a second or two
            list(pool.map(Server.start, new))
        return new

    try:
        yield start
    finally:
        for node in nodes:
            node.stop(signal.SIGKILL)
            print(node.log.read_text())  # shown by pytest when the test fails


async def sign_up(base: str, username: str) -> str:
    """Register through the real form; the Cookie header a browser would then send."""
    async with httpx.AsyncClient(base_url=base) as http:
        page = await http.get("/register")
        cookies = {"parley_csrf": page.cookies["parley_csrf"]}
        response = await http.post(
            "/register",
            data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
            headers={"Cookie": f"parley_csrf={cookies['parley_csrf']}"},
        )
        assert response.status_code == 303, response.text
        # Secure cookies are not sent back over plain http by cookie jars: carry them by hand.
        cookies = dict(re.findall(r"(parley_\w+)=([^;]+)", response.headers["set-cookie"]))
        assert "parley_session" in cookies
        return "; ".join(f"{name}={value}" for name, value in cookies.items())


async def kill_subscriptions(broker_url: str, database_url: str, channel: str) -> int:
    """Drop every node's broker subscription the way a broker restart does; how many."""
    name = f"{LISTENER_NAME}:{channel}"
    if broker_url == "postgres":
        admin = await asyncpg.connect(database_url)
        try:
            rows = await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1 AND datname = current_database()",
                name,
            )
        finally:
            await admin.close()
        return len(rows)
    # Only our nodes' pub/sub connections: other clients of this Redis are left alone.
    redis = Redis.from_url(broker_url)
    try:
        clients = await redis.client_list(_type="pubsub")
        for client in clients:
            if client["name"] == name:
                await redis.client_kill_filter(_id=client["id"])
    finally:
        await redis.aclose()
    return sum(client["name"] == name for client in clients)
