"""``kehrabot checklist check FILE…``: validate checklist files, print every problem as
``file:line: what is wrong``; exit status 1 if any file has a problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_check(args: argparse.Namespace) -> int:
    from handlers.checklist.format import check_file

    bad = 0
    for name in args.files:
        checklist, problems = check_file(Path(name))
        if problems:
            bad += 1
            for problem in problems:
                print(problem)
        else:
            print(f"{name}: ok — {checklist.id} v{checklist.version}, {len(checklist.dimensions)} dimensions, "
                  f"{len(checklist.questions)} questions")
    if bad:
        print(f"{bad} of {len(args.files)} file(s) have problems", file=sys.stderr)
    return 1 if bad else 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("checklist", help="self-assessment checklists")
    sub = parser.add_subparsers(dest="checklist_command", required=True)
    check = sub.add_parser("check", help="validate checklist YAML files (file:line: problem)")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_check)
