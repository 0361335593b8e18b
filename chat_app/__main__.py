"""``python -m chat_app migrate`` applies migrations; ``python -m chat_app serve`` serves."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from chat_app import ROOT, config
from chat_app.db import apply_migrations
from chat_app.serve import configure_logging, run


def main(argv: list[str] | None = None) -> int:
    """Run one operator command."""
    parser = argparse.ArgumentParser(prog="python -m chat_app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    serve_cmd = commands.add_parser("serve", help="serve HTTP and WebSocket with Hypercorn")
    serve_cmd.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve_cmd.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve_cmd.add_argument("--config", type=Path, default=ROOT / "hypercorn.toml")
    serve_cmd.add_argument(
        "--workers", type=int, help="worker processes (default: hypercorn.toml's `workers`)"
    )
    args = parser.parse_args(argv)

    if args.command == "migrate":
        configure_logging()
        url = config.load()["DATABASE_URL"]
        asyncio.run(apply_migrations(url))
        print(f"Migrations applied to {url.split('@')[-1]}")
        return 0
    return run(args.host, args.port, args.config, args.workers)


if __name__ == "__main__":
    sys.exit(main())
