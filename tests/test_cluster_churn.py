"""Exactly once across nodes, under churn: three nodes on one database and one broker, people
posting on two of them, tabs on all three that lose their connection at random (a TCP reset, no
close frame) and resume where they were, and one node killed halfway; posts, edits, deletions
and reactions in the mix. At the end every tab must show what the database holds: each message
once, none missing, none left over, each with its current text and reaction counts.

Publishes from two nodes reach a third in either order, so a tab can hold N+1 before N: if it
resumes after N+1 (the newest message it holds), N is lost. Resuming after the newest change the
tab applied, with changes delivered in their order per room, is what makes it exact.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest
from tortoise import Tortoise

from chat_app.models import Message, Room
from chat_app.models.changes import newest_change
from tests.conftest import DATABASE, Cluster, Server, sign_up
from tests.tabs import Element, Headlines, Tab

pytestmark = pytest.mark.skipif(
    DATABASE != "postgres",
    reason="nodes share one PostgreSQL database: these run in the PostgreSQL pass",
)

RUN_SECONDS = 24.0  # posting; a node is killed halfway
SENDERS = 16  # half on node A, half on node B (then on C, once B is gone)
SENDS_PER_SECOND = 4.0  # each, on average
RECEIVERS_PER_NODE = 4
DROP_EVERY = (0.3, 2.0)  # seconds a receiver's connection lives
# At most, for the nodes to finish what they were sent and the tabs to show it: on a busy
# machine a node applies the senders' frames seconds after they were sent.
SETTLE_SECONDS = 30.0
EMOJI = ("👍", "🎉", "👀")


@dataclass
class Sender:
    """Someone on a tab that stays connected: they post, edit and delete their own messages and
    toggle reactions on anyone's, with the socket frames of the change-log contract."""

    name: str
    tab: Tab
    client_ids: set[str] = field(default_factory=set)
    deleted: set[int] = field(default_factory=set)
    actions: Counter[str] = field(default_factory=Counter)

    async def run(self, deadline: float) -> None:
        # Paced by the clock, not by the sleeps: a busy event loop must not lower the rate.
        due = time.monotonic()
        while (due := due + random.uniform(0, 2 / SENDS_PER_SECOND)) < deadline:
            await asyncio.sleep(due - time.monotonic())
            await self.act()

    async def act(self) -> None:
        roll = random.random()
        own = self.own_messages()
        if roll < 0.55 or not own:
            client_id = uuid.uuid4().hex
            self.client_ids.add(client_id)
            await self.tab.post(f"{self.name} says {uuid.uuid4().hex[:12]}", client_id)
            self.actions["post"] += 1
        elif roll < 0.75:
            target = str(random.choice(own))
            content = f"{self.name} edits {uuid.uuid4().hex[:12]}"
            await self.tab.send({"op": "edit", "message_id": target, "content": content})
            self.actions["edit"] += 1
        elif roll < 0.85:
            target_id = random.choice(own)
            self.deleted.add(target_id)
            await self.tab.send({"op": "delete", "message_id": str(target_id)})
            self.actions["delete"] += 1
        else:
            target = str(random.choice(list(self.tab.page.messages)))
            await self.tab.send(
                {"op": "react", "message_id": target, "emoji": random.choice(EMOJI)}
            )
            self.actions["react"] += 1

    def own_messages(self) -> list[int]:
        """The ids of this sender's messages its tab shows (and it has not deleted)."""
        return [
            message_id
            for message_id, element in self.tab.page.messages.items()
            if element.attrs.get("data-client-id") in self.client_ids
            and message_id not in self.deleted
        ]


@dataclass(frozen=True)
class Truth:
    """The room as the database holds it: each message's text and reaction counts."""

    contents: dict[int, str]
    reactions: dict[int, dict[str, int]]


async def room_truth(room_id: int) -> Truth:
    """What every tab in ``room_id`` should show now."""
    rows = await Message.filter(room_id=room_id).values_list("id", "content")
    reactions: dict[int, dict[str, int]] = {}
    counted = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT r.message_id, r.emoji, COUNT(*) AS n FROM reactions r"
        " JOIN messages m ON m.id = r.message_id WHERE m.room_id = $1"
        " GROUP BY r.message_id, r.emoji",
        [room_id],
    )
    for row in counted:
        reactions.setdefault(row["message_id"], {})[row["emoji"]] = row["n"]
    return Truth({int(i): str(content) for i, content in rows}, reactions)


def reactions_shown(element: Element) -> dict[str, int]:
    """The reaction counts a message element shows: each emoji followed by its count."""
    text = element.text
    counts = {}
    for emoji in EMOJI:
        if emoji in text:
            after = text.split(emoji, 1)[1].lstrip()
            digits = after[: len(after) - len(after.lstrip("0123456789"))]
            counts[emoji] = int(digits) if digits else 1
    return {emoji: n for emoji, n in counts.items() if n}


def differences(tab: Tab, truth: Truth) -> dict[str, list[int]]:
    """How what ``tab`` shows differs from the database, by kind (empty lists: it agrees)."""
    shown = tab.page.messages
    stale, reactions = [], []
    for message_id in sorted(shown.keys() & truth.contents.keys()):
        element = shown[message_id]
        bubble = element.find("chat-bubble") or element
        if " ".join(truth.contents[message_id].split()) not in bubble.text:
            stale.append(message_id)
        if reactions_shown(element) != truth.reactions.get(message_id, {}):
            reactions.append(message_id)
    return {
        "missing": sorted(truth.contents.keys() - shown.keys()),
        "left over": sorted(shown.keys() - truth.contents.keys()),
        "duplicates": sorted(tab.page.duplicates),
        "stale text": stale,
        "stale reactions": reactions,
    }


def agrees(tab: Tab, truth: Truth) -> bool:
    """Whether ``tab`` shows exactly what the database holds."""
    return not any(differences(tab, truth).values())


async def settled(room_id: int, tabs: list[Tab]) -> tuple[int, Truth]:
    """The room's newest change and the database's state once every tab shows it (or as it
    stands after SETTLE_SECONDS).

    The nodes may still be committing what the senders sent, and the tabs apply changes while
    the database is read: a reading counts only if no change was committed during it, and a
    tab agrees only once it has applied exactly the newest change. Else a tab that is a
    change ahead of the reading, or behind it, would be compared with the wrong state."""
    until = time.monotonic() + SETTLE_SECONDS
    while True:
        newest = await newest_change(room_id)
        truth = await room_truth(room_id)
        steady = newest == await newest_change(room_id)
        caught_up = all(tab.page.change == newest and agrees(tab, truth) for tab in tabs)
        if (steady and caught_up) or time.monotonic() > until:
            return newest, truth
        await asyncio.sleep(0.5)


async def change_kinds(room_id: int) -> Counter[str]:
    """How many changes of each kind ``room_id`` has had: the mix must really have happened."""
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "SELECT kind, COUNT(*) AS n FROM changes WHERE room_id = $1 GROUP BY kind", [room_id]
    )
    return Counter({str(row["kind"]): int(row["n"]) for row in rows})


async def churn(cluster: Cluster, broker_url: str) -> None:
    """The run of the module docstring; fails with what each receiver got wrong."""
    a, b, c = cluster(3, CHAT_LOGIN_ADDRESS_BURST="100")
    nodes = (a, b, c)
    names = [f"sender{n}" for n in range(SENDERS)]
    names += [f"reader{n}" for n in range(RECEIVERS_PER_NODE * len(nodes))]
    # One sign-up at a time per node: a password hash holds a core for a while, and a crowd
    # of them at once outlasts the client's timeout on a busy machine.
    locks = {node: asyncio.Lock() for node in nodes}

    async def signed_up(node: Server, name: str) -> str:
        async with locks[node]:
            return await sign_up(node.base, name)

    cookies = await asyncio.gather(
        *(signed_up(nodes[n % len(nodes)], name) for n, name in enumerate(names))
    )
    # Senders alternate between A and B; B's go to C when it dies, so two nodes publish
    # throughout. Receivers: four per node; B's go to A or C.
    orders: dict[Server, list[list[Server]]] = {a: [[a, b, c]], b: [[b, a, c], [b, c, a]]}
    orders[c] = [[c, a, b]]
    senders, receivers = [], []
    async with AsyncExitStack() as stack:
        for n in range(SENDERS):
            home = (a, b)[n % 2]
            failover = [home, c, a] if home is b else [a, c]
            tab = Tab(home, cookies[n], nodes=failover, page=Headlines())
            senders.append(Sender(names[n], await stack.enter_async_context(tab)))
        for n in range(RECEIVERS_PER_NODE * len(nodes)):
            home = nodes[n % len(nodes)]
            order = orders[home][n % len(orders[home])]
            tab = Tab(home, cookies[SENDERS + n], nodes=order, churn=DROP_EVERY)
            receivers.append(await stack.enter_async_context(tab))

        started = time.monotonic()
        posting = [asyncio.create_task(s.run(started + RUN_SECONDS)) for s in senders]
        await asyncio.sleep(RUN_SECONDS / 2)
        await asyncio.to_thread(b.stop, signal.SIGKILL)  # no goodbye: its sockets just vanish
        await asyncio.gather(*posting)
        await asyncio.sleep(max(DROP_EVERY))  # the last frames land while the tabs still drop
        for tab in receivers:
            tab.calm()

        room = await Room.get(slug="general")
        until_calm = time.monotonic() - started
        newest, truth = await settled(room.id, receivers)
        # At once, with no await: a change committed late must not reach a tab in between.
        found = [differences(tab, truth) for tab in receivers]
        cursors = Counter(tab.page.change for tab in receivers)
        elapsed = time.monotonic() - started

    actions = sum((s.actions for s in senders), Counter())
    lost = sorted({i for d in found for i in d["missing"]})
    summary = (
        f"broker {broker_url.split(':')[0]}: {len(truth.contents)} messages in the database,"
        f" sent {dict(actions)}, {sum(t.resets for t in receivers)} resets,"
        f" calm after {until_calm:.1f} s, {elapsed:.1f} s in all; newest change {newest},"
        f" receivers' cursors {dict(cursors)};"
        f" missing from receivers: {len(lost)} distinct {lost[:20]};"
        f" per receiver: {[{k: len(v) for k, v in d.items() if v} for d in found]};"
        f" orphan replaces: {sum(len(t.page.orphans) for t in receivers)}"
    )
    print(summary)
    assert b.process is not None and b.process.poll() is not None, "node B was not killed"
    # The load was what it says: the senders kept their pace, and what they posted is stored.
    assert actions.total() > RUN_SECONDS * SENDERS * SENDS_PER_SECOND * 0.8, summary
    assert len(truth.contents) > (actions["post"] - actions["delete"]) * 0.9, summary
    assert all(tab.resets >= RUN_SECONDS / 4 for tab in receivers), summary
    kinds = await change_kinds(room.id)
    assert all(kinds[kind] for kind in ("posted", "edited", "deleted", "reacted")), kinds
    assert truth.reactions, "no reactions left to compare"
    assert not any(any(d.values()) for d in found), summary


async def test_every_tab_ends_showing_the_database_across_nodes_under_churn(
    cluster: Cluster, broker_url: str
) -> None:
    await churn(cluster, broker_url)
