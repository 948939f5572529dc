"""The polls' declarations: the commands, the button handlers, the jobs, the digest and export."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import Command, Feature
from handlers.polls.digest import digest, export_polls, render_digest
from handlers.polls.flow import poll_cmd, polls_cmd
from handlers.polls.jobs import close_job, refresh_job, tidy_job
from handlers.polls.parse import parse_poll
from handlers.polls.voting import on_poll_vote, vote_button

FEATURE = Feature(
    name="polls",
    commands=[
        Command(
            "poll", poll_cmd, {"fi": ("kysely", "aanestys"), "sv": ("omrostning", "enkat"), "en": ("poll",)},
            help=N_("start a poll; also: close, extend, cancel, settings"),
            usage=N_("<question> | <option> | <option> … [| closes <when>] [| multiple <n>] [| anonymous] "
                     "[| hidden results]"),
            parse=parse_poll,
        ),
        Command(
            "polls", polls_cmd, {"fi": ("kyselyt",), "sv": ("omrostningar", "enkater"), "en": ("polls",)},
            help=N_("list open and recently closed polls"),
        ),
    ],
    buttons={"vote": vote_button},
    on_poll_vote=on_poll_vote,
    jobs={"polls.close": close_job, "polls.tidy": tidy_job, "polls.refresh": refresh_job},
    digest=digest,
    render_digest=render_digest,
    exports={"polls": export_polls},
)
