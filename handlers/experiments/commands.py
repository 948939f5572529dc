"""The experiments' declarations: the command table with the actions after an experiment's
number, the buttons and the scheduled job (their data and keys: keys.py).

``/kokeilu N aloita|valmis|keskeytä|kysy|näytä …`` puts the number first and the action second:
the command declares one leading word, and the router picks the action after it like any other
subcommand (``Command.pick``). The number alone shows; dates alone start. The other commands'
words (``/vaihe N seuraava``, ``kysy viikoittain``, ``more``/``less``) are values of one handler,
read by their parsers."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import Command, Feature, Subcommand
from handlers.experiments.digest import digest, export_experiments
from handlers.experiments.flow import (
    abandon_cmd,
    ask_cmd,
    done_cmd,
    indicator_cmd,
    join_button,
    join_cmd,
    leave_cmd,
    measure_cmd,
    phase_cmd,
    show_cmd,
    start_button,
    start_cmd,
)
from handlers.experiments.jobs import ask_job
from handlers.experiments.keys import ASK, JOIN, START
from handlers.experiments.parse import (
    ACTION_WORDS,
    action_args,
    parse_indicator,
    parse_measure,
    parse_phase,
)
from handlers.experiments.render import render_digest
from handlers.ideas import parse_number


def _action(name: str, handler, help: str, usage: str = "") -> Subcommand:
    return Subcommand(name, handler, ACTION_WORDS[name], help=help, usage=usage, parse=action_args(name))


#: the actions after the number; "show" when nothing follows it, "start" when dates follow it
ACTIONS = (
    _action("show", show_cmd, N_("show the experiment")),
    # who may (admins start; the owner or admins close; the team or admins ask): handlers/permissions.py
    _action("start", start_cmd, N_("start an experiment of the idea, dates optional")),
    _action("done", done_cmd, N_("close the experiment as done, with its outcome")),
    _action("abandon", abandon_cmd, N_("abandon the experiment, with the reason")),
    _action("ask", ask_cmd, N_("how often the owner is asked for values: weekly, monthly or off")),
)


FEATURE = Feature(
    name="experiments",
    commands=[
        Command("experiment", None, {"fi": ("kokeilu",), "sv": ("forsok",), "en": ("experiment",)},
                help=N_("show experiment N; admins start one with start; also: done, abandon, ask"),
                usage=N_("<number> | <number> start [<start> - <end>] | <number> done <outcome> | "
                         "<number> abandon <reason> | <number> ask weekly/monthly/off"),
                subcommands=ACTIONS, default="show", otherwise="start", leading=1,
                leading_usage=N_("<number>")),
        Command("join", join_cmd, {"fi": ("mukaan",), "sv": ("delta",), "en": ("join",)},
                help=N_("join the team of an experiment"), usage=N_("<number>"), parse=parse_number),
        Command("leave", leave_cmd, {"fi": ("pois_kokeilusta",), "sv": ("lamna",), "en": ("leave",)},
                help=N_("leave the team of an experiment"), usage=N_("<number>"), parse=parse_number),
        Command("phase", phase_cmd, {"fi": ("vaihe",), "sv": ("fas",), "en": ("phase",)},
                help=N_("move an experiment to a phase, with what was learned (team)"),
                usage=N_("<number> <explore|define|develop|deliver|next> [note]"), parse=parse_phase),
        Command("indicator", indicator_cmd, {"fi": ("mittari",), "sv": ("indikator",), "en": ("indicator",)},
                help=N_("define an indicator for an experiment (team)"),
                usage=N_("<number> <name> | <unit> | <target> | more/less"), parse=parse_indicator),
        Command("measure", measure_cmd, {"fi": ("mittaa",), "sv": ("mata",), "en": ("measure",)},
                help=N_("record an indicator's value (team)"),
                usage=N_("<number> <indicator> <value> [date]"), parse=parse_measure),
    ],
    buttons={JOIN.action: join_button, START.action: start_button},
    jobs={ASK.kind: ask_job},
    digest=digest,
    render_digest=render_digest,
    exports={"experiments": export_experiments},
)
