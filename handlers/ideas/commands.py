"""The ideas' declarations: the commands, the button handlers, the digest and export."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import Command, Feature, Subcommand
from handlers.ideas.digest import export_ideas, ideas_digest, render_ideas_digest
from handlers.ideas.flow import (
    edit_cmd,
    idea_cmd,
    ideas_cmd,
    on_edit,
    on_message,
    page_button,
    status_cmd,
    withdraw_cmd,
)
from handlers.ideas.keys import PAGE, SUPPORT
from handlers.ideas.parse import (
    has_idea_marker,
    parse_list,
    parse_number,
    parse_number_and_rest,
    parse_status_args,
)
from handlers.ideas.support import on_reaction, support_button, support_cmd, unsupport_cmd
from handlers.ideas.threads import THREAD_NAMES, parse_switch, threads_cmd

FEATURE = Feature(
    name="ideas",
    order=50,
    commands=[
        Command("idea", idea_cmd, {"fi": ("idea",), "sv": ("ide",), "en": ("idea",)},
                help=N_("post an idea, or show idea N with its history"), usage=N_("<text> | <number>")),
        Command("ideas", ideas_cmd, {"fi": ("ideat",), "sv": ("ideer",), "en": ("ideas",)},
                help=N_("list ideas: newest, top, #tag, a status or search words"),
                usage=N_("[top] [#tag] [status] [words] [page]"), parse=parse_list,
                subcommands=(Subcommand("threads", threads_cmd, THREAD_NAMES, usage=N_("[on|off]"),
                                        help=N_("each new idea opens its own thread (topic), or not"),
                                        parse=parse_switch),)),
        Command("support", support_cmd, {"fi": ("tue", "kannata"), "sv": ("stod",), "en": ("support",)},
                help=N_("support an idea"), usage=N_("<number>"), parse=parse_number),
        Command("unsupport", unsupport_cmd, {"fi": ("peru_tuki",), "sv": ("ta_bort_stod",), "en": ("unsupport",)},
                help=N_("withdraw your support"), usage=N_("<number>"), parse=parse_number),
        Command("edit", edit_cmd, {"fi": ("muokkaa",), "sv": ("redigera",), "en": ("edit",)},
                help=N_("edit your own idea"), usage=N_("<number> <new text>"), parse=parse_number_and_rest),
        Command("withdraw", withdraw_cmd, {"fi": ("peru_idea",), "sv": ("aterkalla",), "en": ("withdraw",)},
                help=N_("withdraw your own idea"), usage=N_("<number>"), parse=parse_number),
        Command("status", status_cmd, {"fi": ("tila",), "sv": ("status",), "en": ("status",)},
                help=N_("move an idea: new, discussed, experiment, project, done, archived"),
                usage=N_("<number> <status> [reason]"), parse=parse_status_args),
    ],
    buttons={SUPPORT.action: support_button, PAGE.action: page_button},
    on_message=on_message,
    triggers=has_idea_marker,
    on_reaction=on_reaction,
    on_edit=on_edit,
    digest=ideas_digest,
    render_digest=render_ideas_digest,
    exports={"ideas": export_ideas},
)
