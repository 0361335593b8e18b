"""``python -m chat_app TASK``: the same tasks as ``quart --app chat_app TASK``.

``migrate`` applies migrations, ``serve`` serves; ``--help`` lists the rest.
"""

from __future__ import annotations

from quart.cli import ScriptInfo

from chat_app import create_app


def main(argv: list[str] | None = None) -> None:
    """Run one operator task; exits with its status."""
    app = create_app()
    app.cli.main(
        args=argv,
        prog_name="python -m chat_app",
        obj=ScriptInfo(create_app=lambda: app, set_debug_flag=False),
    )


if __name__ == "__main__":
    main()
