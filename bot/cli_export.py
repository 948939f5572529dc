"""``kehrabot export digests|ideas|polls|meetings|checklist …``: the project manager's pull."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

FORMATS = ("md", "csv", "json")


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export weekly digests or raw records (ideas, polls, meetings, checklist, audit) as md, csv or json",
        description="Weekly digests of all areas, or the raw records a feature offers. "
        "--public emits only what each area chose to publish, without names or platform ids.",
    )
    p.add_argument("what", help="digests, or a raw export: ideas, polls, meetings, checklist, audit (whatever is "
                   "installed)")
    p.add_argument("--week", help="digests: ISO week, e.g. 2026-W48 (default: last complete week)")
    p.add_argument("--to-week", help="last ISO week of a range (default: --week)")
    p.add_argument("--area", help="only this area")
    p.add_argument("--format", choices=FORMATS, default="md")
    p.add_argument("--public", action="store_true", help="open data: published parts only, no personal data")
    p.add_argument("--lang", choices=("fi", "sv", "en"), default="fi", help="language of Markdown digests")
    p.add_argument("--separator", choices=(";", ","), help="CSV field separator (default: by --lang, "
                   "';' for fi and sv as Finnish and Swedish Excel expect, with decimal commas; ',' for en)")
    p.add_argument("-o", "--output", help="write to this file (default: standard output)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on standard error")
    p.set_defaults(func=cmd_export)


def _progress(quiet: bool):
    if quiet:
        return None
    tty = sys.stderr.isatty()

    def show(done: int, total: int, label: str) -> None:
        text = f"export: area {done}/{total} {label[:40]}"
        if tty:
            print("\r" + text.ljust(70), end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 10 == 0 or done == 1:
            print(text, file=sys.stderr, flush=True)

    return show


def cmd_export(args: argparse.Namespace) -> int:
    from bot.cli import settings_from
    from storage.digest import parse_week, shift_week, week_of

    settings = settings_from(args)
    logging.getLogger().setLevel(logging.WARNING)  # stderr is for progress and problems here
    try:
        first = parse_week(args.week) if args.week else None
        last = parse_week(args.to_week) if args.to_week else None
    except ValueError as exc:
        print(f"export: not an ISO week like 2026-W48: {exc}", file=sys.stderr)
        return 2

    async def go() -> bytes | None:
        from bot.app import App
        from handlers.digest import export_names, render_export

        app = App(settings)
        try:
            await app.db.upgrade()  # no on_start: exporting must not schedule anything
            services = app.services
            known = ["digests", *export_names(services)]
            if args.what not in known:
                print(f"export: unknown export {args.what!r}; available: {', '.join(known)}", file=sys.stderr)
                return None
            if args.what != "digests" and (args.week or args.to_week):
                print(f"export: --week and --to-week choose digests; {args.what} is exported whole, every record "
                      "with its own times (filter those)", file=sys.stderr)
                return None
            start = first or shift_week(week_of(services.clock.now()), -1)
            end = last or start
            if end < start:
                print("export: --to-week is before --week", file=sys.stderr)
                return None
            return await render_export(services, args.what, args.format, first=start, last=end, area=args.area,
                                       public=args.public, lang=args.lang, progress=_progress(args.quiet),
                                       separator=args.separator)
        finally:
            await app.db.close()

    data = asyncio.run(go())
    if data is None:
        return 2
    if args.output:
        Path(args.output).write_bytes(data)
        if not args.quiet:
            print(f"export: wrote {len(data)} bytes to {args.output}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return 0
