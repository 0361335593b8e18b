"""The scenarios of issue 7. Each runs against our server and, where it makes sense, the
reference, with the same clients, and returns rows for the table."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.loadgen import CONNECT_CONCURRENCY, LoadGen, Target, descriptors_suffice
from bench.population import HISTORY_ROOM, ROOM, SECRET, Population
from bench.servers import HOST, MARKDOWN_MESSAGE, Senders, Server, start_ours, start_reference
from bench.sidebar import arrange, run_sidebar
from bench.soak import run_soak
from chat_app.richtext import render


@dataclass
class Sizes:
    """How big and how long; ``--smoke`` shrinks everything to seconds."""

    fanout_clients: int = 1000
    fanout_rates: tuple[int, ...] = (10, 20, 40, 60, 80, 100, 130, 160, 200, 250, 320, 400)
    step_seconds: float = 4.0
    drain_seconds: float = 5.0
    crowd_clients: int = 10_000
    crowd_seconds: float = 10.0
    latency_clients: int = 100
    latency_rate: int = 10
    latency_seconds: float = 10.0
    history_messages: int = 1_000_000
    history_samples: int = 300
    storm_clients: int = 1000
    storm_missed: int = 100
    storm_timeout: float = 10.0
    # The restart storm: the crowd's clients, this many messages posted as they come back.
    restart_missed: int = 100
    restart_timeout: float = 120.0
    # The curve: fan-out and crowd at each size.
    curve_sizes: tuple[int, ...] = (1000, 3000, 10_000, 20_000)
    senders: int = 4
    workers: int = 2
    # Scenario 1 again with edits and reactions in the mix: this many per post.
    mix_changes_per_post: float = 0.5
    soak_minutes: float = 30.0
    soak_sockets: int = 120
    soak_users: int = 40
    soak_churn: int = 12  # sockets that leave and come back each second
    soak_rate: float = 20.0  # msg/s meanwhile (0: churn alone)
    # Scenario 8: sockets over rooms, one big room whose members all look elsewhere.
    sidebar_sockets: int = 10_000
    sidebar_rooms: int = 200
    sidebar_members: int = 1000
    sidebar_sockets_per_user: int = 2
    sidebar_posts: int = 20

    @property
    def sidebar_users(self) -> int:
        return -(-self.sidebar_sockets // self.sidebar_sockets_per_user)

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(
            fanout_clients=20,
            fanout_rates=(5, 10),
            step_seconds=0.5,  # shorter steps: the smoke runs in `make test`
            drain_seconds=3.0,
            crowd_clients=40,
            crowd_seconds=1.0,
            latency_clients=10,
            latency_seconds=1.0,
            history_messages=500,
            history_samples=20,
            storm_clients=20,
            storm_missed=10,
            storm_timeout=10.0,
            restart_missed=10,
            restart_timeout=10.0,
            curve_sizes=(20,),
            senders=2,
            soak_minutes=1.0,
            soak_sockets=20,
            soak_users=10,
            soak_churn=4,
            soak_rate=5.0,
            sidebar_sockets=60,
            sidebar_rooms=6,
            sidebar_members=12,
            sidebar_posts=3,
        )


@dataclass
class Row:
    """One figure: ours, the reference's (when there is one), the target and whether it is met."""

    scenario: str
    figure: str
    ours: float | None
    reference: float | None = None
    unit: str = ""
    target: str = ""
    met: bool | None = None
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Ours relative to the reference, > 1 meaning better whichever way the figure goes."""
        if self.ours is None or self.reference is None or not self.ours or not self.reference:
            return None
        return self.ours / self.reference if self.higher_is_better else self.reference / self.ours


@dataclass
class Live:
    """One server under test with its senders; its clients are the generator group of its name."""

    server: Server
    senders: Senders
    bench: Bench

    @property
    def name(self) -> str:
        return self.server.name

    async def connect(self, count: int) -> dict[str, Any]:
        """Connect ``count`` clients; fail loudly if any handshake is refused."""
        cookies = self.bench.population.client_cookies(count)
        path, deflate = self.server.live_path, self.bench.deflate
        targets = [Target(HOST, self.server.port, path, c, deflate) for c in cookies]
        result = await self.bench.loadgen.connect(self.name, targets)
        if result["failed"]:
            # Reported, not fatal: the figures then cover the clients that got in.
            print(
                f"  {self.name}: {result['failed']} of {count} handshakes failed: "
                f"{result['errors']}",
                flush=True,
            )
            self.bench.details.setdefault(f"failed_handshakes_{self.name}", []).append(result)
        return result

    async def restart(self) -> float:
        """Stop the server and start it again (its clients see 1012); the senders reconnect.
        Returns when it was back (monotonic), answering its health check."""
        await asyncio.to_thread(self.server.restart)
        back = time.monotonic()
        await self.senders.reopen()
        return back

    async def call(self, command: str, *args: Any) -> list[dict[str, Any]]:
        """Run a generator command on this server's clients."""
        return await self.bench.loadgen.call(command, self.server.name, *args)

    async def step(self, rate: float, seconds: float) -> dict[str, Any]:
        """Send at ``rate`` for ``seconds``, wait until delivered (or the drain time is up),
        and return latency percentiles (ms), losses and CPU per delivery."""
        bench = self.bench
        count = max(1, round(rate * seconds))
        lo, hi = bench.seqs(count)
        await self.call("measure", lo, hi)
        await bench.loadgen.collect(self.server.name, lo, lo)  # resets the generator's CPU mark
        cpu = self.server.cpu_seconds()
        started = time.monotonic()
        await self.senders.paced(lo, count, rate)
        await self.call("caught_up", bench.sizes.drain_seconds)
        elapsed = time.monotonic() - started
        server_cpu = self.server.cpu_seconds() - cpu
        got = await bench.loadgen.collect(self.server.name, lo, hi)
        ms = [v / 1000 for v in got["latencies_us"]]
        deliveries = max(1, len(ms))
        return {
            "rate": rate,
            "messages": count,
            "clients": got["clients"],
            "deliveries": len(ms),
            "p50_ms": percentile(ms, 0.5),
            "p99_ms": percentile(ms, 0.99),
            "max_ms": max(ms, default=0),
            "missing": got["missing"],
            "duplicated": got["duplicated"],
            "closed": got["closed"],
            "close_codes": got["close_codes"],
            "server_cpu_us_per_delivery": server_cpu / deliveries * 1e6,
            "server_cpu_share": server_cpu / elapsed,
            "loadgen_cpu_share": got["cpu_seconds"] / elapsed,
        }


@dataclass
class Worded(Live):
    """The same server and clients as ``of``, its senders posting ``template`` (around the
    bench token): two texts take turns at each rate of one climb, under the same load."""

    label: str = ""
    template: str = "{token}"

    @property
    def name(self) -> str:
        return self.label

    async def step(self, rate: float, seconds: float) -> dict[str, Any]:
        """As ``Live.step``, with this text."""
        self.senders.template = self.template
        return await super().step(rate, seconds)


@dataclass
class Bench:
    """Everything a scenario needs: sizes, data, the load generator and a seq counter."""

    sizes: Sizes
    population: Population
    loadgen: LoadGen
    with_reference: bool = True
    # py-spy's stacks of our server during fan-out (and the crowd's connects, beside it)
    profile: Path | None = None
    sweep: bool = False  # fan-out: try every rate, even after a failed one (CPU per delivery)
    deflate: bool = True  # clients offer permessage-deflate, as browsers do
    curve_png: Path = Path("bench/results/curve.png")
    open_files: int = 1 << 16  # this process's limit, which the servers inherit
    details: dict[str, Any] = field(default_factory=dict)
    _seq: int = 0

    def seqs(self, count: int) -> tuple[int, int]:
        """A fresh range of message seqs (each is sent once in the whole run)."""
        lo = self._seq
        self._seq += count
        return lo, self._seq

    @contextlib.asynccontextmanager
    async def servers(
        self, clients: int, starters: list[Callable[[], Server]] | None = None
    ) -> AsyncIterator[list[Live]]:
        """Servers (by default ours and the reference), each with ``clients`` connected clients
        and its senders. All run for the whole scenario and take turns, so load from elsewhere
        on the machine hits them alike."""
        if starters is None:
            starters = [lambda: start_ours(self.population.database_url, SECRET, ROOM)]
            if self.with_reference:
                starters.append(start_reference)
        async with contextlib.AsyncExitStack() as stack:
            lives = []
            starts = []
            for start in starters:
                starts.append(start())
                stack.callback(starts[-1].stop)
            for server in starts:
                senders = await stack.enter_async_context(
                    Senders(server, self.population.sender_cookies)
                )
                live = Live(server, senders, self)
                stack.push_async_callback(self.loadgen.call, "close", server.name)
                if clients:
                    await live.connect(clients)
                lives.append(live)
            yield lives


def start_profiler(server: Server, out: Path) -> subprocess.Popen[bytes]:
    """Sample the server with py-spy (the dev extras' own, beside this Python) until interrupted."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(server.process.pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    """Let py-spy write its output."""
    profiler.send_signal(signal.SIGINT)
    profiler.wait(60)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def ok(result: dict[str, Any], p99_ms: float) -> bool:
    """Nothing lost, nothing doubled, no socket closed, p99 within bound."""
    return (
        result["missing"] == 0
        and result["duplicated"] == 0
        and result["closed"] == 0
        and result["p99_ms"] <= p99_ms
    )


def by_name(results: dict[str, Any], key: str) -> tuple[Any, Any]:
    """(ours, reference) of one figure; None where there is no reference."""
    return results["ours"].get(key), results.get("reference", {}).get(key)


async def climb(
    bench: Bench, lives: list[Live], label: str, rates: tuple[int, ...] | None = None
) -> dict[str, dict[str, Any]]:
    """Rising rates (by default the fan-out's), the servers taking turns at each; per server,
    the result at its highest rate with p99 ≤ 250 ms and nothing lost (a server drops out at
    its first failed rate)."""
    best: dict[str, dict[str, Any]] = {}
    profiler = start_profiler(lives[0].server, bench.profile) if bench.profile else None
    running = list(lives)
    failed: set[str] = set()
    for rate in rates or bench.sizes.fanout_rates:
        for live in list(running):
            # A failed rate gets a second try: a burst of outside load on this shared
            # machine should not end a server's climb (every server gets the same rule).
            for _ in range(2):
                result = await live.step(rate, bench.sizes.step_seconds)
                if ok(result, 250):
                    break
            bench.details.setdefault(f"{label}_{live.name}", []).append(result)
            print(
                f"  {label} {live.name} {rate}/s: p50 {result['p50_ms']:.1f} ms, "
                f"p99 {result['p99_ms']:.1f} ms, "
                f"{result['server_cpu_us_per_delivery']:.1f} µs/delivery, "
                f"missing {result['missing']}, closed {result['closed']}",
                flush=True,
            )
            if ok(result, 250) and live.name not in failed:
                best[live.name] = result
                continue
            failed.add(live.name)  # the figure is the rate before the first failure
            if not bench.sweep:
                running.remove(live)
                if live is lives[0] and profiler is not None:
                    stop_profiler(profiler)
                    profiler = None
        if not running:
            break
    if profiler is not None:
        stop_profiler(profiler)
    return best


async def fanout(bench: Bench) -> list[Row]:
    """Scenario 1: N clients in one room; the highest rate with p99 ≤ 250 ms, nothing lost.
    At each rate ours goes, then the reference."""
    n = bench.sizes.fanout_clients
    async with bench.servers(n) as lives:
        best = await climb(bench, lives, "fanout")
        # Ours once more with edits and reactions between the posts (the reference has
        # neither): every change is fanned out like a post, the rate counts the posts.
        await lives[0].senders.mix(bench.sizes.mix_changes_per_post)
        mixed = (await climb(bench, lives[:1], "fanout_mix")).get("ours")
        refused = lives[0].senders.notices
    rate = {name: r["rate"] for name, r in best.items()}
    cost = {name: r["server_cpu_us_per_delivery"] for name, r in best.items()}
    gen = {name: r["loadgen_cpu_share"] for name, r in best.items()}
    share = bench.sizes.mix_changes_per_post
    return [
        Row(
            "1 fan-out",
            f"max msg/s to {n} clients (p99 ≤ 250 ms, no loss)",
            rate.get("ours"),
            rate.get("reference"),
            "msg/s",
            "ratio ≥ 1.0",
            higher_is_better=True,
            met=None if "reference" not in rate else rate.get("ours", 0) >= rate["reference"],
        ),
        Row(
            "1 fan-out",
            f"… with {share:g} edits or reactions per post: max posts/s to {n} clients",
            mixed["rate"] if mixed else None,
            rate.get("reference"),
            "msg/s",
            "holds the rate without them",
            higher_is_better=True,
            met=None if not mixed or "ours" not in rate else mixed["rate"] >= rate["ours"],
            note=f"changes refused: {refused}; the reference neither edits nor reacts",
        ),
        Row(
            "1 fan-out",
            "server CPU per delivery at that rate",
            cost.get("ours"),
            cost.get("reference"),
            "µs",
        ),
        Row(
            "1 fan-out",
            "load generator CPU at that rate",
            gen.get("ours"),
            gen.get("reference"),
            "cores",
            note="all generator processes together",
        ),
    ]


def render_cost_us(text: str, rounds: int = 2000) -> float:
    """CPU microseconds ``chat_app.richtext.render`` takes for ``text`` (best of three runs):
    CPU time, not wall time, so that other load on the machine does not count."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(rounds):
            render(text)
        best = min(best, (time.process_time() - started) / rounds * 1e6)
    return best


async def markdown(bench: Bench) -> list[Row]:
    """Scenario 1 with Markdown-heavy messages against plain text, ours only, in one run: the
    rendering cost per message (paid once, when it is stored) and the fan-out rate of each,
    the two texts taking turns at each rate on one server with the same clients."""
    n = bench.sizes.fanout_clients
    token = "bench:123456:7890123456789"
    plain_us = render_cost_us(token)
    heavy_us = render_cost_us(MARKDOWN_MESSAGE.format(token=token))
    starters = [lambda: start_ours(bench.population.database_url, SECRET, ROOM)]
    async with bench.servers(n, starters) as [ours]:
        await settle(ours.server)  # the clients' arrival (presence) is not part of a step
        texts = [
            Worded(ours.server, ours.senders, bench, "plain"),
            Worded(ours.server, ours.senders, bench, "markdown", MARKDOWN_MESSAGE),
        ]
        best = await climb(bench, list(texts), "fanout")
    plain, heavy = best.get("plain"), best.get("markdown")
    # The first rate's figures whether or not it met the target: on a busy machine no rate
    # may, and these still compare the two texts under the same load.
    at_first = [bench.details[f"fanout_{text.name}"][0] for text in texts]
    first = bench.sizes.fanout_rates[0]
    return [
        Row("1 fan-out, Markdown", "render per message: plain text", plain_us, unit="µs"),
        Row("1 fan-out, Markdown", "render per message: Markdown-heavy", heavy_us, unit="µs"),
        Row(
            "1 fan-out, Markdown",
            f"max msg/s to {n} clients: plain text",
            plain["rate"] if plain else None,
            unit="msg/s",
            higher_is_better=True,
        ),
        Row(
            "1 fan-out, Markdown",
            f"max msg/s to {n} clients: Markdown-heavy",
            heavy["rate"] if heavy else None,
            plain["rate"] if plain else None,
            "msg/s",
            "holds the plain-text rate",
            higher_is_better=True,
            met=None if not (plain and heavy) else heavy["rate"] >= plain["rate"],
            note="'reference' here: plain text in the same run",
        ),
        *(
            Row(
                "1 fan-out, Markdown", f"{figure} at {first} msg/s: {text.label}", r[key], unit=unit
            )
            for figure, key, unit in (
                ("server CPU per delivery", "server_cpu_us_per_delivery", "µs"),
                ("p99", "p99_ms", "ms"),
            )
            for text, r in zip(texts, at_first, strict=True)
        ),
    ]


async def settle(server: Server, limit: float = 60.0) -> float:
    """Wait until ``server`` is idle (under a tenth of a core for a second), at most ``limit``
    seconds: the crowd is measured in steady state, not while the server still works through
    the connects (presence updates of a thousand people coming online)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = server.cpu_seconds()
        await asyncio.sleep(1)
        if server.cpu_seconds() - before < 0.1:
            break
    return time.monotonic() - started


async def measure_crowd(
    bench: Bench, lives: list[Live], n: int, label: str
) -> dict[str, dict[str, Any]]:
    """Connect ``n`` clients to each of ``lives`` (which have none yet), one server after the
    other, and measure each at 1 msg/s once settled: per server, the step's figures, the time
    the connects took and the memory per connection."""
    results: dict[str, dict[str, Any]] = {}
    bases = {}
    for live in lives:
        await live.step(1, 1)  # warm: templates, queries, pools
        bases[live.name] = live.server.rss_bytes()
    for live in lives:
        # CPU seconds, not wall time, per handshake: outside load slows the connects but
        # leaves this figure alone. The settling counts too: presence work that a connect
        # storm defers is still work per handshake.
        profiler = None
        if bench.profile and live is lives[0]:
            profiler = start_profiler(live.server, bench.profile.with_name(f"{label}-connects"))
        cpu = live.server.cpu_seconds()
        joined = await live.connect(n)
        settled = await settle(live.server)
        if profiler is not None:
            stop_profiler(profiler)
        handshake_ms = (live.server.cpu_seconds() - cpu) / max(1, joined["connected"]) * 1000
        print(
            f"  {label} {live.name}: {joined['connected']} connected in "
            f"{joined['seconds']:.1f} s, settled {settled:.1f} s later; server CPU "
            f"{handshake_ms:.2f} ms per handshake",
            flush=True,
        )
        results[live.name] = {
            "connect_seconds": joined["seconds"],
            "handshakes_per_second": joined["connected"] / max(joined["seconds"], 1e-9),
            "settle_seconds": settled,
            "failed_handshakes": joined["failed"],
            "cpu_ms_per_handshake": handshake_ms,
        }
    for live in lives:
        result = await live.step(1, bench.sizes.crowd_seconds)
        per_conn = (live.server.rss_bytes() - bases[live.name]) / n / 1024
        results[live.name] |= result | {"kb_per_connection": per_conn}
        bench.details[f"{label}_{live.name}"] = results[live.name]
        print(
            f"  {label} {live.name}: p99 {result['p99_ms']:.1f} ms, {per_conn:.1f} KB/conn",
            flush=True,
        )
    return results


async def crowd(bench: Bench) -> list[Row]:
    """Scenario 2: many connected clients; latency and CPU per delivery at 1 msg/s, how fast
    they connected, and memory per active connection."""
    n = bench.sizes.crowd_clients
    async with bench.servers(0) as lives:
        results = await measure_crowd(bench, lives, n, "crowd")
    ours = results["ours"]
    lost = ours["missing"] + ours["duplicated"] + ours["closed"] + ours["failed_handshakes"]
    p99 = Row(
        "2 crowd",
        f"p99 at 1 msg/s, {n} clients",
        *by_name(results, "p99_ms"),
        "ms",
        "≤ 250 ms, ratio ≥ 1.0",
        note=f"lost/doubled/closed/refused: {lost}",
    )
    p99.met = ours["p99_ms"] <= 250 and lost == 0 and (p99.ratio is None or p99.ratio >= 1)
    # The connect target: every client in at most 10 s.
    wanted_rate = n / 10
    return [
        p99,
        Row("2 crowd", f"p50 at 1 msg/s, {n} clients", *by_name(results, "p50_ms"), "ms"),
        Row(
            "2 crowd",
            "server CPU per delivery at 1 msg/s",
            *by_name(results, "server_cpu_us_per_delivery"),
            "µs",
        ),
        Row(
            "2 crowd",
            f"time to connect {n} clients",
            *by_name(results, "connect_seconds"),
            "s",
            "≤ 10 s",
            met=ours["connect_seconds"] <= 10 and ours["failed_handshakes"] == 0,
            note=f"refused: {ours['failed_handshakes']}; {bench.loadgen.size} generator "
            f"processes, {CONNECT_CONCURRENCY} handshakes at a time each",
        ),
        Row(
            "2 crowd",
            "handshakes per second while connecting",
            *by_name(results, "handshakes_per_second"),
            "/s",
            f"≥ {wanted_rate:,.0f}/s",
            met=ours["handshakes_per_second"] >= wanted_rate,
            higher_is_better=True,
        ),
        Row(
            "2 crowd",
            "server CPU per handshake, until settled",
            *by_name(results, "cpu_ms_per_handshake"),
            "ms",
        ),
        Row(
            "2 crowd",
            "memory per active connection",
            *by_name(results, "kb_per_connection"),
            "KB",
            "≤ 32 KB",
            met=ours["kb_per_connection"] <= 32,
        ),
    ]


async def latency(bench: Bench) -> list[Row]:
    """Scenario 3: light load with persistence; send-to-delivery p50 and p99."""
    sizes = bench.sizes
    results: dict[str, dict[str, Any]] = {}
    async with bench.servers(sizes.latency_clients) as lives:
        for live in lives:
            await live.step(sizes.latency_rate, 1)  # warm up
        for live in lives:
            results[live.name] = await live.step(sizes.latency_rate, sizes.latency_seconds)
            bench.details[f"latency_{live.name}"] = results[live.name]
    ours = results["ours"]
    label = f"{sizes.latency_clients} clients, {sizes.latency_rate} msg/s"
    return [
        Row(
            "3 latency",
            f"p50, {label}",
            *by_name(results, "p50_ms"),
            "ms",
            "≤ 10 ms",
            met=ours["p50_ms"] <= 10 and ok(ours, 1e9),
        ),
        Row(
            "3 latency",
            f"p99, {label}",
            *by_name(results, "p99_ms"),
            "ms",
            "≤ 50 ms",
            met=ours["p99_ms"] <= 50 and ok(ours, 1e9),
            note=f"lost/doubled: {ours['missing'] + ours['duplicated']}",
        ),
    ]


async def history(bench: Bench) -> list[Row]:
    """Scenario 4: pages of 50 before random cursors in a large room: query and page time."""
    from tortoise import Tortoise

    from chat_app.config import tortoise_config
    from chat_app.models.messages import page_before

    population = bench.population
    assert population.history_room_id is not None and population.history_ids is not None
    first, last = population.history_ids
    rng = random.Random(7)
    cursors = [rng.randint(first + 50, last) for _ in range(bench.sizes.history_samples)]
    await Tortoise.init(config=tortoise_config(population.database_url))
    try:
        for cursor in cursors[:10]:  # warm up the pool and the plan cache
            await page_before(population.history_room_id, cursor, 50)
        query_ms = []
        for cursor in cursors:
            started = time.perf_counter()
            page = await page_before(population.history_room_id, cursor, 50)
            query_ms.append((time.perf_counter() - started) * 1000)
            assert len(page) == 50
    finally:
        await Tortoise.close_connections()
    server = start_ours(population.database_url, SECRET, ROOM)
    try:
        page_ms = []
        cookie = population.cookies[0]
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}") as http:
            for cursor in cursors[:10]:  # warm up
                await http.get(
                    f"/rooms/{HISTORY_ROOM}/history?before={cursor}", headers={"Cookie": cookie}
                )
            for cursor in cursors:
                started = time.perf_counter()
                response = await http.get(
                    f"/rooms/{HISTORY_ROOM}/history?before={cursor}", headers={"Cookie": cookie}
                )
                page_ms.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200 and response.text.count('id="message-') == 50
    finally:
        server.stop()
    count = bench.sizes.history_messages
    bench.details["history"] = {"query_ms": query_ms, "page_ms": page_ms}
    return [
        Row(
            "4 history",
            f"page of 50 before a random cursor, {count:,} messages: query p99",
            percentile(query_ms, 0.99),
            None,
            "ms",
            "≤ 5 ms",
            met=percentile(query_ms, 0.99) <= 5,
            note=f"p50 {statistics.median(query_ms):.2f} ms (ORM call, as the server makes it)",
        ),
        Row(
            "4 history",
            "history page over HTTP (query + render + transfer): p99",
            percentile(page_ms, 0.99),
            None,
            "ms",
            "≤ 20 ms",
            met=percentile(page_ms, 0.99) <= 20,
            note=f"p50 {statistics.median(page_ms):.2f} ms",
        ),
    ]


async def reconnect_storm(
    bench: Bench, live: Live, missed: int, wait_seconds: float, *, restart: bool = False
) -> dict[str, Any]:
    """Every client of ``live`` loses its connection and ``missed`` messages are posted, then
    all reconnect at once with ``?after=<the newest change they applied>``, as the page does;
    seconds until every client has every one of them, and what was lost or doubled.

    Without ``restart`` the clients drop (no closing handshake), the messages are posted while
    they are away, and the clock starts as they reconnect. With it, the server is stopped
    (its clients get 1012) and started again on the same port and database; the clock starts
    once it is back, and the messages are posted while the clients reconnect, so some come in
    the catch-up and some live."""
    await live.step(10, 0.5)  # every client has a newest change
    lo, hi = bench.seqs(missed)
    await live.call("measure", lo, hi)
    if restart:
        started = await live.restart()
        await live.call("drop")  # forget the closed sockets, keep what each had received
        replies, _ = await asyncio.gather(
            live.call("reconnect"), live.senders.paced(lo, missed, 500)
        )
    else:
        await live.call("drop")
        await asyncio.sleep(0.5)
        await live.senders.paced(lo, missed, 500)
        await asyncio.sleep(0.5)  # all of it committed before anyone is back
        started = time.monotonic()
        replies = await live.call("reconnect")
    await live.call("caught_up", wait_seconds)
    took = time.monotonic() - started
    got = await bench.loadgen.collect(live.name, lo, hi)
    result = {
        "seconds": took,
        "missing": got["missing"],
        "duplicated": got["duplicated"],
        "reconnect_failed": sum(r["failed"] for r in replies),
    }
    label = "restart" if restart else "storm"
    bench.details[f"{label}_{live.name}"] = result
    print(f"  {label} {live.name}: {result}", flush=True)
    return result


def storm_losses(result: dict[str, Any]) -> int:
    """Messages missed or doubled, and reconnects refused, in a ``reconnect_storm`` result."""
    return int(result["missing"] + result["duplicated"] + result["reconnect_failed"])


async def storm(bench: Bench) -> list[Row]:
    """Scenario 5: every client drops, messages are posted meanwhile, all reconnect at once."""
    sizes = bench.sizes
    results: dict[str, dict[str, Any]] = {}
    async with bench.servers(sizes.storm_clients) as lives:
        for live in lives:
            results[live.name] = await reconnect_storm(
                bench, live, sizes.storm_missed, sizes.storm_timeout
            )
    ours = results["ours"]
    lost = storm_losses(ours)
    return [
        Row(
            "5 reconnect storm",
            f"{sizes.storm_clients} clients each missing {sizes.storm_missed}: all caught up",
            *by_name(results, "seconds"),
            "s",
            "≤ 10 s, nothing lost",
            met=ours["seconds"] <= 10 and lost == 0,
            note=f"lost/doubled/failed: {lost}",
        ),
    ]


async def restart(bench: Bench) -> list[Row]:
    """Scenario 5 after a restart of our server, with the crowd's clients: ours only."""
    sizes = bench.sizes
    n = sizes.crowd_clients
    starters = [lambda: start_ours(bench.population.database_url, SECRET, ROOM)]
    async with bench.servers(n, starters) as [ours]:
        await settle(ours.server)  # the connects' presence work is not part of the restart
        result = await reconnect_storm(
            bench, ours, sizes.restart_missed, sizes.restart_timeout, restart=True
        )
    lost = storm_losses(result)
    return [
        Row(
            "5 restart storm",
            f"{n} clients after a server restart, {sizes.restart_missed} messages posted as "
            "they reconnect: all caught up",
            result["seconds"],
            unit="s",
            target="≤ 20 s, nothing lost",
            met=result["seconds"] <= 20 and lost == 0,
            note=f"from the server being back; lost/doubled/failed: {lost}; ours only (the "
            "reference keeps no messages across a restart)",
        ),
    ]


async def workers(bench: Bench) -> list[Row]:
    """Scenario 6: the fan-out climb with N worker processes versus one, both through the
    PostgreSQL broker (LISTEN/NOTIFY), so the only difference is the process count. The
    clients and the senders are spread over the workers by the kernel, so every message
    crosses between processes."""
    n, count = bench.sizes.fanout_clients, bench.sizes.workers
    url = bench.population.database_url
    if not url.startswith("postgres"):
        return [Row("6 workers", "N workers vs 1", None, note="needs --database postgres")]

    def start(workers: int) -> Callable[[], Server]:
        name = f"{workers}-worker" if workers == 1 else f"{workers}-workers"
        return lambda: start_ours(
            url, SECRET, ROOM, name=name, workers=workers, broker_url="postgres"
        )

    async with bench.servers(n, [start(count), start(1)]) as lives:
        best = await climb(bench, lives, "workers")
    many, one = (best.get(live.name, {}) for live in lives)
    return [
        Row(
            "6 workers",
            f"max msg/s to {n} clients, {count} workers vs 1 (PostgreSQL broker)",
            many.get("rate"),
            one.get("rate"),
            "msg/s",
            "report",
            higher_is_better=True,
            note="reference column: 1 worker",
        ),
        Row(
            "6 workers",
            "server CPU per delivery at that rate (all processes)",
            many.get("server_cpu_us_per_delivery"),
            one.get("server_cpu_us_per_delivery"),
            "µs",
            note="reference column: 1 worker",
        ),
    ]


async def soak(bench: Bench) -> list[Row]:
    """Scenario 7: sockets churning for a long time (half closing cleanly, half by a TCP
    reset) while messages flow; the server's memory must level off."""
    sizes = bench.sizes
    cookies = bench.population.cookies[: sizes.soak_users]
    async with bench.servers(
        0, [lambda: start_ours(bench.population.database_url, SECRET, ROOM)]
    ) as lives:
        live = lives[0]
        result = await run_soak(
            live.server,
            cookies,
            live.senders.paced,
            minutes=sizes.soak_minutes,
            sockets=sizes.soak_sockets,
            churn=sizes.soak_churn,
            rate=sizes.soak_rate,
            senders=len(bench.population.sender_cookies),
        )
    bench.details["soak_ours"] = result
    growth = result["growth_after_minute_1_mb"]
    label = (
        f"{sizes.soak_sockets} sockets of {len(cookies)} users, {sizes.soak_churn} reconnecting/s, "
        f"{sizes.soak_rate:g} msg/s, {result['minutes']} min"
    )
    return [
        Row(
            "7 soak",
            f"RSS growth after minute 1, {label}",
            growth,
            None,
            "MB",
            "≤ 16 MB in 30 min",
            met=growth <= 16 and result["open_connections_after"] == 0,
            note=f"{result['growth_mb_per_minute']:.2f} MB/min; RSS {result['rss_mb'][0]:.0f} → "
            f"{result['rss_mb'][-1]:.0f} MB; {result['opened']:,} opens, "
            f"{result['failed']} failed; tabs still open after: {result['open_connections_after']}",
        ),
    ]


async def sidebar(bench: Bench) -> list[Row]:
    """Scenario 8: a message in a big room; until every member's sidebar elsewhere shows it."""
    sizes = bench.sizes
    population = bench.population
    cookies = population.cookies[: sizes.sidebar_users]
    sender_index = len(population.cookies)  # the first sender account
    layout = await arrange(
        population.database_url, cookies, sender_index, sizes.sidebar_rooms, sizes.sidebar_members
    )
    result = await run_sidebar(
        bench.loadgen,
        population.database_url,
        layout,
        cookies,
        population.sender_cookies[0],
        sizes.sidebar_sockets_per_user,
        sizes.sidebar_posts,
        settle,
    )
    ms = result.pop("latencies_ms")
    result |= {
        "p50_ms": percentile(ms, 0.5),
        "p99_ms": percentile(ms, 0.99),
        "max_ms": max(ms, default=0),
        "deliveries": len(ms),
    }
    bench.details["sidebar_ours"] = result
    label = (
        f"{result['sockets']} sockets, {sizes.sidebar_rooms} rooms, "
        f"{len(layout.member_cookies)}-member room"
    )
    note = (
        f"{result['member_sockets']} member sockets, {result['posts']} posts each; "
        f"missing {result['missing']}; refused {result['failed_handshakes']}; "
        f"server CPU {result['server_cpu_seconds'] / max(1, result['posts']) * 1000:.0f} ms/post"
    )
    return [
        Row(
            "8 sidebar",
            f"p50 until the sidebar elsewhere shows it, {label}",
            result["p50_ms"],
            unit="ms",
            note=note,
        ),
        Row(
            "8 sidebar",
            f"p99 until the sidebar elsewhere shows it, {label}",
            result["p99_ms"],
            unit="ms",
            met=result["missing"] == 0,
        ),
    ]


# What the curve reports at each size, per server: (key, figure, unit, higher is better).
CURVE_FIGURES = (
    ("fanout_rate", "fan-out max msg/s (p99 ≤ 250 ms, no loss)", "msg/s", True),
    ("fanout_cpu_us", "fan-out server CPU per delivery at that rate", "µs", False),
    ("crowd_p99_ms", "crowd p99 at 1 msg/s", "ms", False),
    ("crowd_cpu_us", "crowd server CPU per delivery at 1 msg/s", "µs", False),
)


def scaled_rates(rates: tuple[int, ...], base: int, clients: int) -> tuple[int, ...]:
    """The fan-out rates for ``clients``: as many deliveries per second as ``rates`` make at
    ``base`` clients, so every size climbs through the same load (at least 1 msg/s)."""
    return tuple(sorted({max(1, round(rate * base / clients)) for rate in rates}))


async def curve_point(bench: Bench, n: int) -> dict[str, dict[str, float | None]]:
    """One size of the curve, on fresh servers: the crowd, then the fan-out climb with the
    same clients (connecting them once per size)."""
    sizes = bench.sizes
    async with bench.servers(0) as lives:
        crowds = await measure_crowd(bench, lives, n, f"curve_{n}_crowd")
        rates = scaled_rates(sizes.fanout_rates, sizes.fanout_clients, n)
        best = await climb(bench, lives, f"curve_{n}_fanout", rates)
    return {
        live.name: {
            "fanout_rate": best.get(live.name, {}).get("rate"),
            "fanout_cpu_us": best.get(live.name, {}).get("server_cpu_us_per_delivery"),
            "crowd_p99_ms": crowds[live.name]["p99_ms"],
            "crowd_cpu_us": crowds[live.name]["server_cpu_us_per_delivery"],
        }
        for live in lives
    }


async def curve(bench: Bench) -> list[Row]:
    """Scenario 9: fan-out and crowd at each of the curve's sizes, ours against the
    reference; the rows, and a plot of them."""
    from bench.plot import plot_curve  # matplotlib takes a while to import: only here

    def fits(n: int) -> bool:
        return descriptors_suffice(n, bench.loadgen.size, bench.open_files)

    points = {n: await curve_point(bench, n) for n in bench.sizes.curve_sizes if fits(n)}
    skipped = [
        Row(
            "9 curve",
            f"{n} clients",
            None,
            note=f"not run: more sockets than the open-files limit of {bench.open_files} "
            "holds (raise the hard limit: ulimit -Hn)",
        )
        for n in bench.sizes.curve_sizes
        if not fits(n)
    ]
    for row in skipped:
        print(f"  curve: {row.figure}: {row.note}", flush=True)
    bench.details["curve"] = points
    if points:
        plot_curve(points, CURVE_FIGURES, bench.curve_png)
        print(f"  curve plotted to {bench.curve_png}", flush=True)
    return skipped + [
        Row(
            "9 curve",
            f"{figure}, {n} clients",
            point["ours"][key],
            point.get("reference", {}).get(key),
            unit,
            higher_is_better=higher,
        )
        for key, figure, unit, higher in CURVE_FIGURES
        for n, point in points.items()
    ]


SCENARIOS = {
    "fanout": fanout,
    "markdown": markdown,
    "crowd": crowd,
    "latency": latency,
    "history": history,
    "storm": storm,
    "restart": restart,
    "workers": workers,
    "soak": soak,
    "sidebar": sidebar,
    "curve": curve,
}
# What runs without --scenarios: the soak and the curve are long, the restart connects the
# crowd's 10,000 clients twice (over 2 minutes at today's connect rate), and the sidebar's
# 10,000 sockets in 200 rooms are a set-up of their own; they run when named.
NAMED_ONLY = ("soak", "sidebar", "restart", "curve")
DEFAULT_SCENARIOS = [name for name in SCENARIOS if name not in NAMED_ONLY]
