"""The scenarios of issue 7. Each runs against our server and, where it makes sense, the
reference, with the same clients, and returns rows for the table."""

from __future__ import annotations

import asyncio
import random
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.loadgen import LoadGen, Target
from bench.population import HISTORY_ROOM, ROOM, SECRET, Population
from bench.servers import HOST, Senders, Server, start_ours, start_reference


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
    senders: int = 4

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(
            fanout_clients=20,
            fanout_rates=(5, 10),
            step_seconds=1.0,
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
            senders=2,
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
class Bench:
    """Everything a scenario needs: sizes, data, the load generator and a seq counter."""

    sizes: Sizes
    population: Population
    loadgen: LoadGen
    with_reference: bool = True
    profile: Path | None = None  # py-spy's collapsed stacks of our server during fan-out
    details: dict[str, Any] = field(default_factory=dict)
    _seq: int = 0

    def seqs(self, count: int) -> tuple[int, int]:
        """A fresh range of message seqs (each is sent once in the whole run)."""
        lo = self._seq
        self._seq += count
        return lo, self._seq

    def servers(self) -> Iterator[tuple[str, Callable[[], Server]]]:
        yield "ours", lambda: start_ours(self.population.database_url, SECRET, ROOM)
        if self.with_reference:
            yield "reference", start_reference


def start_profiler(server: Server, out: Path) -> subprocess.Popen[bytes]:
    """Sample the server with py-spy (installed separately) until interrupted."""
    return subprocess.Popen(
        [
            "py-spy",
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


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def targets(server: Server, cookies: list[str]) -> list[Target]:
    """A client target per cookie (the reference ignores cookies)."""
    return [Target(HOST, server.port, server.live_path, cookie) for cookie in cookies]


async def connect(bench: Bench, server: Server, count: int) -> dict[str, Any]:
    """Connect ``count`` clients to ``server``; fail loudly if any handshake is refused."""
    result = await bench.loadgen.connect(targets(server, bench.population.client_cookies(count)))
    if result["failed"]:
        raise RuntimeError(f"{result['failed']} of {count} clients failed: {result['errors']}")
    return result


async def step(
    bench: Bench, server: Server, senders: Senders, rate: float, seconds: float
) -> dict[str, Any]:
    """Send at ``rate`` for ``seconds``, wait until delivered (or the drain time is up), and
    return latency percentiles (ms), losses and CPU per delivery."""
    count = max(1, round(rate * seconds))
    lo, hi = bench.seqs(count)
    await bench.loadgen.call("measure", lo)
    await bench.loadgen.collect(lo, lo)  # resets the generator's CPU mark
    cpu = server.cpu_seconds()
    started = time.monotonic()
    await senders.paced(lo, count, rate)
    await bench.loadgen.call("caught_up", lo, hi, bench.sizes.drain_seconds)
    elapsed = time.monotonic() - started
    server_cpu = server.cpu_seconds() - cpu
    got = await bench.loadgen.collect(lo, hi)
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
        "server_cpu_us_per_delivery": server_cpu / deliveries * 1e6,
        "server_cpu_share": server_cpu / elapsed,
        "loadgen_cpu_share": got["cpu_seconds"] / elapsed,
    }


def ok(result: dict[str, Any], p99_ms: float) -> bool:
    """Nothing lost, nothing doubled, no socket closed, p99 within bound."""
    return (
        result["missing"] == 0
        and result["duplicated"] == 0
        and result["closed"] == 0
        and result["p99_ms"] <= p99_ms
    )


async def fanout(bench: Bench) -> list[Row]:
    """Scenario 1: N clients in one room; the highest rate with p99 ≤ 250 ms, nothing lost."""
    best: dict[str, float] = {}
    cost: dict[str, float] = {}
    gen: dict[str, float] = {}
    for name, start in bench.servers():
        server = start()
        profiler = None
        try:
            await connect(bench, server, bench.sizes.fanout_clients)
            if name == "ours" and bench.profile is not None:
                profiler = start_profiler(server, bench.profile)
            async with Senders(server, bench.population.sender_cookies) as senders:
                steps = []
                for rate in bench.sizes.fanout_rates:
                    result = await step(bench, server, senders, rate, bench.sizes.step_seconds)
                    steps.append(result)
                    print(
                        f"  fan-out {name} {rate}/s: p99 {result['p99_ms']:.1f} ms, "
                        f"missing {result['missing']}, closed {result['closed']}",
                        flush=True,
                    )
                    if not ok(result, 250):
                        break
                    best[name] = rate
                    cost[name] = result["server_cpu_us_per_delivery"]
                    gen[name] = result["loadgen_cpu_share"]
            bench.details[f"fanout_{name}"] = steps
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(30)
            await bench.loadgen.call("close")
            server.stop()
    n = bench.sizes.fanout_clients
    return [
        Row(
            "1 fan-out",
            f"max msg/s to {n} clients (p99 ≤ 250 ms, no loss)",
            best.get("ours"),
            best.get("reference"),
            "msg/s",
            "ratio ≥ 1.0",
            higher_is_better=True,
            met=None if "reference" not in best else best.get("ours", 0) >= best["reference"],
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


async def crowd(bench: Bench) -> list[Row]:
    """Scenario 2: many connected clients; p99 at 1 msg/s and memory per active connection."""
    n = bench.sizes.crowd_clients
    p99: dict[str, float] = {}
    per_conn: dict[str, float] = {}
    lost: dict[str, int] = {}
    for name, start in bench.servers():
        server = start()
        try:
            async with Senders(server, bench.population.sender_cookies) as senders:
                await step(bench, server, senders, 1, 1)  # warm: templates, queries, pools
                base = server.rss_bytes()
                joined = await connect(bench, server, n)
                result = await step(bench, server, senders, 1, bench.sizes.crowd_seconds)
                per_conn[name] = (server.rss_bytes() - base) / n / 1024
                p99[name] = result["p99_ms"]
                lost[name] = result["missing"] + result["duplicated"] + result["closed"]
                bench.details[f"crowd_{name}"] = result | {"connect_seconds": joined["seconds"]}
                print(
                    f"  crowd {name}: p99 {p99[name]:.1f} ms, {per_conn[name]:.1f} KB/conn, "
                    f"connected in {joined['seconds']:.1f} s",
                    flush=True,
                )
        finally:
            await bench.loadgen.call("close")
            server.stop()
    return [
        Row(
            "2 crowd",
            f"p99 at 1 msg/s, {n} clients",
            p99.get("ours"),
            p99.get("reference"),
            "ms",
            "≤ 250 ms",
            met=p99.get("ours", 1e9) <= 250 and lost.get("ours") == 0,
            note=f"lost/doubled: {lost.get('ours')}",
        ),
        Row(
            "2 crowd",
            "memory per active connection",
            per_conn.get("ours"),
            per_conn.get("reference"),
            "KB",
            "≤ 64 KB",
            met=per_conn.get("ours", 1e9) <= 64,
        ),
    ]


async def latency(bench: Bench) -> list[Row]:
    """Scenario 3: light load with persistence; send-to-delivery p50 and p99."""
    sizes = bench.sizes
    results: dict[str, dict[str, Any]] = {}
    for name, start in bench.servers():
        server = start()
        try:
            await connect(bench, server, sizes.latency_clients)
            async with Senders(server, bench.population.sender_cookies) as senders:
                await step(bench, server, senders, sizes.latency_rate, 1)  # warm up
                results[name] = await step(
                    bench, server, senders, sizes.latency_rate, sizes.latency_seconds
                )
            bench.details[f"latency_{name}"] = results[name]
        finally:
            await bench.loadgen.call("close")
            server.stop()
    ours, ref = results["ours"], results.get("reference", {})
    label = f"{sizes.latency_clients} clients, {sizes.latency_rate} msg/s"
    return [
        Row(
            "3 latency",
            f"p50, {label}",
            ours["p50_ms"],
            ref.get("p50_ms"),
            "ms",
            "≤ 10 ms",
            met=ours["p50_ms"] <= 10 and ok(ours, 1e9),
        ),
        Row(
            "3 latency",
            f"p99, {label}",
            ours["p99_ms"],
            ref.get("p99_ms"),
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


async def storm(bench: Bench) -> list[Row]:
    """Scenario 5: every client drops, messages are posted meanwhile, all reconnect at once."""
    sizes = bench.sizes
    took: dict[str, float] = {}
    lost: dict[str, int] = {}
    for name, start in bench.servers():
        server = start()
        try:
            await connect(bench, server, sizes.storm_clients)
            async with Senders(server, bench.population.sender_cookies) as senders:
                await step(bench, server, senders, 10, 0.5)  # every client has a last message id
                await bench.loadgen.call("drop")
                await asyncio.sleep(0.5)
                lo, hi = bench.seqs(sizes.storm_missed)
                await senders.paced(lo, sizes.storm_missed, 500)
                await asyncio.sleep(0.5)  # all of it committed before anyone is back
                await bench.loadgen.call("measure", lo)
                started = time.monotonic()
                replies = await bench.loadgen.call("reconnect")
                await bench.loadgen.call("caught_up", lo, hi, sizes.storm_timeout)
                took[name] = time.monotonic() - started
                got = await bench.loadgen.collect(lo, hi)
                lost[name] = got["missing"] + got["duplicated"]
                failed = sum(r["failed"] for r in replies)
                bench.details[f"storm_{name}"] = {
                    "seconds": took[name],
                    "missing": got["missing"],
                    "duplicated": got["duplicated"],
                    "reconnect_failed": failed,
                }
                print(
                    f"  storm {name}: {took[name]:.2f} s, lost/doubled {lost[name]}, "
                    f"failed reconnects {failed}",
                    flush=True,
                )
        finally:
            await bench.loadgen.call("close")
            server.stop()
    return [
        Row(
            "5 reconnect storm",
            f"{sizes.storm_clients} clients each missing {sizes.storm_missed}: all caught up",
            took.get("ours"),
            took.get("reference"),
            "s",
            "≤ 10 s, nothing lost",
            met=took.get("ours", 1e9) <= 10 and lost.get("ours") == 0,
            note=f"lost/doubled: {lost.get('ours')}",
        ),
    ]


async def workers(bench: Bench) -> list[Row]:
    """Scenario 6: N workers versus one — needs a broker shared between processes."""
    from chat_app.realtime.broker import broker_from_url

    try:
        broker_from_url(bench.population.database_url)
    except ValueError:
        return [
            Row(
                "6 workers",
                "N workers vs one",
                None,
                None,
                note="not yet available: needs the scale-out broker (CHAT_BROKER_URL)",
            )
        ]
    return [
        Row(
            "6 workers",
            "N workers vs one",
            None,
            None,
            note="broker present; this scenario is not written yet",
        )
    ]


SCENARIOS = {
    "fanout": fanout,
    "crowd": crowd,
    "latency": latency,
    "history": history,
    "storm": storm,
    "workers": workers,
}
