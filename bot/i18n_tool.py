"""Manage the gettext catalogs with Babel: ``python -m bot.i18n_tool extract|update|compile|check``.

The domain of a source file is its module name (``handlers/polls.py`` -> ``polls``); the router
and the shared plumbing belong to ``core``. English is the source language, so the English
catalog is filled from the msgids on update; Finnish and Swedish are translated by hand.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from core.i18n import LANGUAGES, LOCALES_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("core", "bot", "handlers", "storage")
CORE_FILES = {"handlers/base.py", "handlers/router.py", "handlers/core.py", "handlers/keys.py", "core/i18n.py"}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def domain_of(path: Path) -> str:
    """``handlers/polls.py`` and every module of a package ``handlers/polls/`` -> ``polls``."""
    rel = path.relative_to(ROOT).as_posix()
    if rel in CORE_FILES:
        return "core"
    parts = path.relative_to(ROOT).parts
    if len(parts) == 3 and parts[0] == "handlers":
        return parts[1]
    return path.stem


def extract() -> dict[str, Catalog]:
    """Fresh templates from the source, one per domain."""
    catalogs: dict[str, Catalog] = defaultdict(lambda: Catalog(project="kehrabot", fuzzy=False))
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for lineno, message, comments, context in extract_from_file(
                "python", str(path), keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
            ):
                catalogs[domain_of(path)].add(
                    message,
                    locations=[(path.relative_to(ROOT).as_posix(), lineno)],
                    auto_comments=comments,
                    context=context,
                )
    return dict(catalogs)


def _po(lang: str, domain: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def cmd_extract() -> None:
    for domain, template in extract().items():
        with (LOCALES_DIR / f"{domain}.pot").open("wb") as fh:
            write_po(fh, template, width=100)


def cmd_update() -> None:
    for domain, template in extract().items():
        with (LOCALES_DIR / f"{domain}.pot").open("wb") as fh:
            write_po(fh, template, width=100)
        for lang in LANGUAGES:
            path = _po(lang, domain)
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                with path.open("rb") as fh:
                    catalog = read_po(fh, locale=lang)
            else:
                catalog = Catalog(locale=lang, project="kehrabot", fuzzy=False)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
            if lang == "en":
                for msg in catalog:
                    if msg.id and not msg.string or (isinstance(msg.string, tuple) and not all(msg.string)):
                        msg.string = msg.id
                    msg.flags.discard("fuzzy")
            with path.open("wb") as fh:
                write_po(fh, catalog, width=100, omit_header=False)


def cmd_compile() -> None:
    for po in sorted(LOCALES_DIR.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as fh:
            catalog = read_po(fh)
        with po.with_suffix(".mo").open("wb") as fh:
            write_mo(fh, catalog)


def missing() -> list[str]:
    """Every (language, domain, msgid) without a usable translation."""
    problems = []
    for domain, template in extract().items():
        for lang in LANGUAGES:
            path = _po(lang, domain)
            if not path.exists():
                problems.append(f"{lang}: {path.name} missing ({len(template) } messages)")
                continue
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=lang)
            for msg in template:
                if not msg.id:
                    continue
                have = catalog.get(msg.id, msg.context)
                strings = have.string if have else None
                if isinstance(strings, tuple):
                    ok = all(strings)
                else:
                    ok = bool(strings)
                if not ok or (have and have.fuzzy):
                    key = msg.id if isinstance(msg.id, str) else msg.id[0]
                    problems.append(f"{lang}/{domain}.po: {key!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cmd = argv[0] if argv else "check"
    if cmd == "extract":
        cmd_extract()
    elif cmd == "update":
        cmd_update()
    elif cmd == "compile":
        cmd_compile()
    elif cmd == "check":
        problems = missing()
        for p in problems:
            print("untranslated:", p)
        return 1 if problems else 0
    else:
        print("usage: python -m bot.i18n_tool extract|update|compile|check", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
