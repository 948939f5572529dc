"""The ``kehrabot`` command. Feature modules add subcommands in ``bot/cli_<name>.py``
(each with ``register(subparsers)``)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import sys
from pathlib import Path

import bot
from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging


def _secrets(settings: Settings) -> list[str]:
    values = []
    for getter in (settings.telegram.secret_token, settings.matrix.secret_password, settings.matrix.secret_access_token):
        try:
            values.append(getter() or "")
        except ConfigError:
            pass
    return values


def settings_from(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "config", None))
    setup_logging("WARNING" if args.command == "console" else settings.log_level, _secrets(settings))
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    names = settings.active_transports()
    if names == ["console"]:
        return cmd_console(args, settings)
    from bot.app import App, build_transports

    app = App(settings)
    for transport in build_transports(settings, app.services, names):
        app.add_transport(transport)
    asyncio.run(_run_until_signalled(app, settings.stop_deadline_seconds))
    return 0


async def _run_until_signalled(app, deadline: float) -> None:
    """SIGTERM or SIGINT: a clean stop within ``deadline`` seconds (exit 0); a second one
    stops at once."""
    import logging
    import os
    import signal

    loop = asyncio.get_running_loop()
    log = logging.getLogger("kehrabot")

    def on_signal(signum: int) -> None:
        if app.stopping:
            log.warning("second %s: stopping at once", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info("%s: stopping (up to %.0f s for the work in hand)", signal.Signals(signum).name, deadline)
        app.request_stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    await app.run(stop_deadline=deadline)
    log.info("stopped")


def cmd_console(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or settings_from(args)
    from bot.app import App
    from bot.console import ConsoleTransport, run_console

    transport = ConsoleTransport(data_dir=Path(settings.data_dir))
    if getattr(args, "user", None):
        transport.user = args.user
    if getattr(args, "chat", None):
        transport.chat = args.chat
    if getattr(args, "admin", False):
        transport.admins.setdefault(transport.chat_id, set()).add(transport.user.lower())
    app = App(settings, transports=[transport])
    transport.services = app.services
    asyncio.run(run_console(app, transport))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    from storage.db import Database
    from storage.migrate import current, heads

    async def go() -> None:
        db = Database(settings.resolved_database_url())
        try:
            if args.action == "upgrade":
                await db.upgrade()
            revs = await current(db)
            state = "up to date" if revs == heads() else f"behind (heads {sorted(heads())})"
            print(f"{db.url.render_as_string(hide_password=True)}: {sorted(revs)} — {state}")
        finally:
            await db.close()

    asyncio.run(go())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kehrabot", description="Chat bot for Kehrä neighbourhood networks.")
    parser.add_argument("-c", "--config", help="TOML config file (default: $KEHRABOT_CONFIG or ./kehrabot.toml)")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("run", help="run the bot on the configured transports (console if none)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("console", help="chat with the bot in this terminal (reads a script from stdin too)")
    p.add_argument("--user", help="speak as this person (default Aino)")
    p.add_argument("--chat", help="group chat name (default kehra)")
    p.add_argument("--admin", action="store_true", help="start as an admin of the chat")
    p.set_defaults(func=cmd_console)
    p = sub.add_parser("db", help="database migrations")
    p.add_argument("action", choices=["upgrade", "current"])
    p.set_defaults(func=cmd_db)
    for mod in pkgutil.iter_modules(bot.__path__):
        if mod.name.startswith("cli_"):
            importlib.import_module(f"bot.{mod.name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        args.command = "run"
        args.func = cmd_run
    try:
        return args.func(args) or 0
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
