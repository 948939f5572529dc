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
    if args.action == "copy":
        return _db_copy(args, settings)
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


def _db_copy(args: argparse.Namespace, settings: Settings) -> int:
    """``db copy --to URL``: 0 copied and verified, 2 refused (nothing written), 1 failed (the
    target's transaction rolled back)."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage import copy

    if not args.to:
        print("db copy: --to URL is required (e.g. --to postgresql://kehrabot@127.0.0.1/kehrabot)", file=sys.stderr)
        return 2
    source = _database_url(args.source) if args.source else settings.resolved_database_url()
    target = _database_url(args.to)
    print(f"copying {copy.describe(source)} → {copy.describe(target)}", file=sys.stderr)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        checks = asyncio.run(copy.copy_store(source, target, progress=progress))
    except copy.CopyRefused as err:
        print(f"db copy: refused: {err}", file=sys.stderr)
        return 2
    except copy.CopyMismatch as err:
        print(copy.report(err.tables))
        print(f"db copy: {err}; nothing was written to the target (is a bot still running on the source?)",
              file=sys.stderr)
        return 1
    except (SQLAlchemyError, OSError) as err:
        cause = getattr(err, "orig", None) or err
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        print(f"db copy: failed: {first}; nothing was written to the target", file=sys.stderr)
        return 1
    print(copy.report(checks))
    print(f"verified: {len(checks)} tables, {sum(c.target_rows for c in checks):,} rows, counts and checksums equal")
    return 0


def _database_url(url: str) -> str:
    return Settings.model_construct(database_url=url).resolved_database_url()


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
    p = sub.add_parser(
        "db", help="database migrations; copy the store to another database",
        description="upgrade: migrate the store; current: show its revision; copy --to URL: copy the whole "
        "store into an empty database (e.g. from SQLite to PostgreSQL) and verify it. Stop the bot before "
        "copying: the source must not be in use, or the copy misses what the bot writes meanwhile.")
    p.add_argument("action", choices=["upgrade", "current", "copy"])
    p.add_argument("--to", metavar="URL", help="copy: the target database, e.g. postgresql://kehrabot@127.0.0.1/"
                   "kehrabot; it must be empty (it is migrated first)")
    p.add_argument("--from", dest="source", metavar="URL",
                   help="copy: the source store (default: the configured one; the bot must not be running on it)")
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
