"""``python -m bench``: run the scenarios against our server and the reference, print the table
and write it as JSON. ``--smoke`` runs tiny sizes in seconds (part of ``make test``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.loadgen import LoadGen, descriptors_suffice, raise_open_files
from bench.population import SOCKETS_PER_USER, database, populate
from bench.scenarios import DEFAULT_SCENARIOS, NAMED_ONLY, SCENARIOS, Bench, Row, Sizes


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        # Other work on the machine skews everything: say how busy it was.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(rows: list[Row]) -> str:
    """The results as a Markdown table (also readable in a terminal)."""
    lines = [
        "| scenario | figure | ours | reference | ratio | target | met | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r.met]
        unit = f" {r.unit}" if r.unit else ""
        ours = fmt(r.ours) + (unit if r.ours is not None else "")
        ref = fmt(r.reference) + (unit if r.reference is not None else "")
        lines.append(
            f"| {r.scenario} | {r.figure} | {ours} | {ref} | {ratio} | {r.target} | "
            f"{met} | {r.note} |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace, open_files: int) -> dict[str, Any]:
    sizes = Sizes.smoke() if args.smoke else Sizes()
    if args.clients:
        sizes = replace(sizes, fanout_clients=args.clients, storm_clients=args.clients)
    if args.rates:
        sizes = replace(sizes, fanout_rates=tuple(int(r) for r in args.rates.split(",")))
    if args.crowd:
        sizes = replace(sizes, crowd_clients=args.crowd)
    if args.workers:
        sizes = replace(sizes, workers=args.workers)
    if args.curve_sizes:
        sizes = replace(sizes, curve_sizes=tuple(int(n) for n in args.curve_sizes.split(",")))
    if args.soak_minutes is not None:
        sizes = replace(sizes, soak_minutes=args.soak_minutes)
    if args.soak_rate is not None:
        sizes = replace(sizes, soak_rate=args.soak_rate)
    for option in ("sockets", "rooms", "members", "posts"):
        value = getattr(args, f"sidebar_{option}")
        if value is not None:
            sizes = replace(sizes, **{f"sidebar_{option}": value})
    chosen = args.scenarios.split(",")
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    sockets = max(
        sizes.fanout_clients,
        sizes.storm_clients,
        sizes.latency_clients,
        sizes.crowd_clients if {"crowd", "restart"} & set(chosen) else 0,
    )
    users = -(-sockets // SOCKETS_PER_USER)
    if "soak" in chosen:
        users = max(users, sizes.soak_users)
    if "sidebar" in chosen:
        users = max(users, sizes.sidebar_users)
        sockets = max(sockets, sizes.sidebar_sockets)
    if "curve" in chosen:
        users = max(users, -(-max(sizes.curve_sizes) // SOCKETS_PER_USER))
    # The curve skips the sizes that do not fit, with a row saying so; the rest must fit.
    if not descriptors_suffice(sockets, args.processes, open_files):
        raise SystemExit(
            f"{sockets} sockets need more open files than the limit of {open_files}: "
            "raise the hard limit (ulimit -Hn) or run smaller sizes"
        )
    started = time.monotonic()
    async with database(args.database) as url:
        print(
            f"preparing {args.database}: {sockets} sockets, history "
            f"{sizes.history_messages if 'history' in chosen else 0:,} messages",
            flush=True,
        )
        population = await populate(
            url,
            users=users,
            senders=sizes.senders,
            history_messages=sizes.history_messages if "history" in chosen else 0,
        )
        loadgen = LoadGen(args.processes)
        # Wait until the generator processes are up: their start-up (imports) would otherwise
        # run beside the first scenario's timings.
        await loadgen.call("close", "start-up")
        bench = Bench(
            sizes,
            population,
            loadgen,
            with_reference=not args.no_reference,
            profile=args.profile,
            sweep=args.sweep,
            deflate=not args.no_deflate,
            curve_png=args.curve_png,
            open_files=open_files,
        )
        rows: list[Row] = []
        try:
            for name in chosen:
                print(f"scenario {name}", flush=True)
                rows += await SCENARIOS[name](bench)
        finally:
            await loadgen.stop()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "database": args.database,
        "client": "raw asyncio WebSocket clients, "
        + ("no permessage-deflate offer" if args.no_deflate else "offering permessage-deflate"),
        "loadgen_processes": args.processes,
        "seconds": round(time.monotonic() - started, 1),
        "rows": [asdict(r) | {"ratio": r.ratio} for r in rows],
        "table": table(rows),
        "details": bench.details,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"comma-separated, from: {', '.join(SCENARIOS)} "
        f"({', '.join(NAMED_ONLY)} only when named)",
    )
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--clients", type=int, help="fan-out and storm clients (default 1000)")
    parser.add_argument("--crowd", type=int, help="crowd and restart clients (default 10000)")
    parser.add_argument("--workers", type=int, help="worker processes in scenario 6 (default 2)")
    parser.add_argument(
        "--soak-minutes", type=float, help="soak: how long the sockets churn (default 30)"
    )
    parser.add_argument(
        "--soak-rate", type=float, help="soak: messages per second meanwhile (default 20, 0: none)"
    )
    parser.add_argument(
        "--sidebar-sockets", type=int, help="sidebar: sockets in all (default 10000, 2 per user)"
    )
    parser.add_argument("--sidebar-rooms", type=int, help="sidebar: rooms (default 200)")
    parser.add_argument(
        "--sidebar-members", type=int, help="sidebar: members of the big room (default 1000)"
    )
    parser.add_argument("--sidebar-posts", type=int, help="sidebar: posts measured (default 20)")
    parser.add_argument(
        "--curve-sizes",
        help="curve: client counts, comma-separated (default 1000,3000,10000,20000)",
    )
    parser.add_argument(
        "--curve-png", type=Path, default=Path("bench/results/curve.png"), help="curve: the plot"
    )
    parser.add_argument("--processes", type=int, default=3, help="load generator processes")
    parser.add_argument("--no-reference", action="store_true", help="skip the reference server")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write py-spy stacks of our server during fan-out here (and during the "
        "crowd's connects to crowd-connects beside it)",
    )
    parser.add_argument(
        "--sweep", action="store_true", help="fan-out: go through every rate even after one fails"
    )
    parser.add_argument(
        "--no-deflate",
        action="store_true",
        help="clients do not offer permessage-deflate (browsers do)",
    )
    parser.add_argument("--rates", help="fan-out rates to try, comma-separated (msg/s)")
    parser.add_argument("--json", type=Path, default=Path("bench/results/latest.json"))
    args = parser.parse_args()
    report = asyncio.run(run(args, open_files=raise_open_files()))
    print(report["table"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, default=str))
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
