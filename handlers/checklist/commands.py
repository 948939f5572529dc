"""The declarations of the checklist feature: the command and its subcommands (names in fi/sv/en,
parser, role, help), the buttons, the jobs, the digest and the exports."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import Command, Feature, Subcommand
from handlers.checklist.buttons import (
    answer_button,
    back_button,
    done_button,
    go_button,
    name_button,
    skip_button,
    stop_button,
    toggle_button,
)
from handlers.checklist.digest import digest, export_cmd, export_records, render_digest
from handlers.checklist.flow import back_cmd, on_message, resume_cmd, skip_cmd, stop_cmd
from handlers.checklist.jobs import close_job, remind_job
from handlers.checklist.keys import ANSWER, BACK, CLOSE, DONE, GO, NAME, REMIND, SKIP, STOP, TOGGLE
from handlers.checklist.parse import args_for
from handlers.checklist.rounds import close_cmd, list_cmd, mode_cmd, share_cmd, start_round
from handlers.checklist.views import areas_cmd, compare_cmd, profile_cmd


def _sub(name: str, handler, aliases: dict[str, tuple[str, ...]], help: str, usage: str = "") -> Subcommand:
    return Subcommand(name, handler, aliases, help=help, usage=usage, parse=args_for(name))


SUBCOMMANDS = (
    _sub("start", start_round, {"fi": ("aloita",), "sv": ("starta", "börja", "borja"), "en": ("start", "begin")},
         N_("start a round"), N_("[name] [closes <when>]")),
    _sub("close", close_cmd, {"fi": ("sulje", "päätä", "paata"), "sv": ("stäng", "stang", "avsluta"),
                              "en": ("close", "end")}, N_("close the round and post its profile")),
    _sub("resume", resume_cmd, {"fi": ("jatka", "vastaa"), "sv": ("fortsätt", "fortsatt", "svara"),
                                "en": ("resume", "continue", "answer")}, N_("answer, or go on where you stopped")),
    _sub("stop", stop_cmd, {"fi": ("lopeta", "tauko", "keskeytä", "keskeyta"), "sv": ("stoppa", "paus", "pausa"),
                            "en": ("stop", "pause")}, N_("pause your answering")),
    _sub("back", back_cmd, {"fi": ("takaisin", "edellinen"), "sv": ("tillbaka", "bakåt", "bakat"), "en": ("back",)},
         N_("go back one question")),
    _sub("skip", skip_cmd, {"fi": ("ohita",), "sv": ("hoppa",), "en": ("skip",)}, N_("skip this question")),
    _sub("profile", profile_cmd, {"fi": ("profiili", "tulokset"), "sv": ("profil", "resultat"),
                                  "en": ("profile", "results")}, N_("the area's profile"), N_("[radar]")),
    _sub("compare", compare_cmd, {"fi": ("vertaa", "historia"), "sv": ("jämför", "jamfor", "historik"),
                                  "en": ("compare", "history")}, N_("the rounds of this area over time")),
    _sub("areas", areas_cmd, {"fi": ("alueet", "vertaisalueet"), "sv": ("områden", "omraden"),
                              "en": ("areas", "peers")}, N_("this area beside the others")),
    _sub("export", export_cmd, {"fi": ("vie", "tallenna"), "sv": ("exportera",), "en": ("export",)},
         N_("the answers as a file"), N_("csv|json")),
    _sub("share", share_cmd, {"fi": ("jaa", "jako"), "sv": ("dela",), "en": ("share",)},
         N_("share the area's figures with other areas"), N_("on|off")),
    _sub("mode", mode_cmd, {"fi": ("tapa", "paikka"), "sv": ("sätt", "satt", "plats"), "en": ("mode",)},
         N_("answer in the group or in private"), N_("group|private")),
    _sub("list", list_cmd, {"fi": ("lista", "listaa"), "sv": ("lista", "listor"), "en": ("list",)},
         N_("the checklists there are")),
)


FEATURE = Feature(
    name="checklist",
    order=10,
    commands=[
        Command(
            "checklist", None,
            {"fi": ("itsearviointi", "arviointi"), "sv": ("sjalvvardering", "checklista"), "en": ("checklist",)},
            help=N_("self-assessment: answer, start/close a round, profile, compare, areas, export"),
            usage=N_("[start [name] [closes <when>] | close | stop | back | skip | profile [radar] | compare | "
                     "areas | export csv|json | share on|off | mode group|private | list]"),
            subcommands=SUBCOMMANDS,
            default="resume",
        ),
    ],
    buttons={ANSWER.action: answer_button, TOGGLE.action: toggle_button, DONE.action: done_button,
             SKIP.action: skip_button, BACK.action: back_button, STOP.action: stop_button, GO.action: go_button,
             NAME.action: name_button},
    on_message=on_message,
    jobs={CLOSE.kind: close_job, REMIND.kind: remind_job},
    digest=digest,
    render_digest=render_digest,
    exports={"checklist": export_records},
)
