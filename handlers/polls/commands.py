"""The polls' declarations: the commands, the button handlers, the jobs, the digest and export."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import SHOW_NAMES, Command, Feature, Subcommand
from handlers.polls.area import copies_job, result_job
from handlers.polls.digest import digest, export_polls, render_digest
from handlers.polls.flow import (
    area_cmd,
    cancel_cmd,
    close_cmd,
    extend_cmd,
    poll_cmd,
    polls_cmd,
    settings_cmd,
    show_cmd,
)
from handlers.polls.jobs import close_job, refresh_job, tidy_job
from handlers.polls.keys import CLOSE, COPIES, REFRESH, RESULT_IN, TIDY, VOTE
from handlers.polls.parse import numbered, parse_area, parse_poll, parse_who
from handlers.polls.voting import on_poll_vote, vote_button

# Any of a subcommand's names works in every language (``/kysely close 3``). Closing, extending
# and cancelling are for the poll's creator and the chat's admins (handlers/permissions.py; the
# handler tells whether the person is the creator).
CLOSE_WORDS = {"fi": ("sulje", "lopeta"), "sv": ("stäng", "avsluta"), "en": ("close", "end")}
EXTEND_WORDS = {"fi": ("jatka", "pidennä"), "sv": ("förläng",), "en": ("extend",)}
CANCEL_WORDS = {"fi": ("peru", "peruuta"), "sv": ("avbryt",), "en": ("cancel",)}
AREA_WORDS = {"fi": ("alue",), "sv": ("område", "omrade"), "en": ("area",)}
SETTINGS_WORDS = {"fi": ("asetukset", "asetus"), "sv": ("inställningar", "inställning"), "en": ("settings", "setting")}

SUBCOMMANDS = (
    Subcommand("close", close_cmd, CLOSE_WORDS, help=N_("close now and post the result"), usage=N_("<number>"),
               parse=numbered(CLOSE_WORDS)),
    Subcommand("extend", extend_cmd, EXTEND_WORDS, help=N_("move the closing time"), usage=N_("<number> <when>"),
               parse=numbered(EXTEND_WORDS)),
    Subcommand("cancel", cancel_cmd, CANCEL_WORDS, help=N_("cancel, with no result"), usage=N_("<number>"),
               parse=numbered(CANCEL_WORDS)),
    Subcommand("settings", settings_cmd, SETTINGS_WORDS, help=N_("who may start polls"), usage=N_("everyone|admins"),
               parse=parse_who),
    Subcommand("area", area_cmd, AREA_WORDS, help=N_("start one poll in every chat of this chat's area"),
               usage=N_("<question> | <option> | <option> … [| closes <when>] [| multiple <n>] [| anonymous]"),
               parse=parse_area, takes_own=True),
    Subcommand("show", show_cmd, SHOW_NAMES, help=N_("show a poll"), usage=N_("<number>"), parse=numbered(SHOW_NAMES)),
)

FEATURE = Feature(
    name="polls",
    commands=[
        Command(
            "poll", poll_cmd, {"fi": ("kysely", "aanestys"), "sv": ("omrostning", "enkat"), "en": ("poll",)},
            help=N_("start a poll; also: area, close, extend, cancel, settings"),
            usage=N_("<question> | <option> | <option> … [| closes <when>] [| multiple <n>] [| anonymous] "
                     "[| hidden results]"),
            parse=parse_poll,
            subcommands=SUBCOMMANDS,
            own_if_contains="|",  # "/poll Close the gate? | yes | no" is a new poll
            numbered="show",  # "/poll 3" shows poll 3
        ),
        Command(
            "polls", polls_cmd, {"fi": ("kyselyt",), "sv": ("omrostningar", "enkater"), "en": ("polls",)},
            help=N_("list open and recently closed polls"),
        ),
    ],
    buttons={VOTE.action: vote_button},
    on_poll_vote=on_poll_vote,
    jobs={CLOSE.kind: close_job, TIDY.kind: tidy_job, REFRESH.kind: refresh_job, COPIES.kind: copies_job,
          RESULT_IN.kind: result_job},
    digest=digest,
    render_digest=render_digest,
    exports={"polls": export_polls},
)
