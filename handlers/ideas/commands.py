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
    page_button,
    status_cmd,
    withdraw_cmd,
)
from handlers.ideas.keys import ANSWER, PAGE, REFER, REMIND, SUPPORT
from handlers.ideas.parse import (
    has_idea_marker,
    parse_list,
    parse_number,
    parse_number_and_rest,
    parse_status_args,
)
from handlers.ideas.routing import (
    OFF_NAMES,
    answer_button,
    answer_cmd,
    parse_answer,
    parse_area_threshold,
    parse_remind_days,
    parse_threshold,
    refer_job,
    remind_job,
    responder_add,
    responder_remove,
    responder_show,
    threshold_area,
    threshold_cmd,
    threshold_off,
    threshold_remind,
    threshold_show,
)
from handlers.ideas.routing import on_message as routing_on_message
from handlers.ideas.support import on_reaction, support_button, support_cmd, unsupport_cmd
from handlers.ideas.threads import THREAD_NAMES, parse_switch, threads_cmd

SHOW = {"fi": ("näytä", "nayta"), "sv": ("visa",), "en": ("show",)}
#: ``/kynnys`` alone shows the rules, ``/kynnys 5 <role>`` (the command's own handler) sets the chat's
THRESHOLD_SUBCOMMANDS = (
    Subcommand("show", threshold_show, SHOW, help=N_("the threshold, who answers, the ideas waiting")),
    Subcommand("area", threshold_area, {"fi": ("alue",), "sv": ("område", "omrade"), "en": ("area",)},
               help=N_("the threshold of the chat's area"), usage=N_("<supporters> <role> | off"),
               parse=parse_area_threshold),
    Subcommand("off", threshold_off, OFF_NAMES, help=N_("no threshold of this chat's own")),
    Subcommand("remind", threshold_remind, {"fi": ("muistutus",), "sv": ("påminnelse", "paminnelse"),
                                            "en": ("reminder", "remind")},
               help=N_("days without an answer before a reminder"), usage=N_("<days>"), parse=parse_remind_days),
)
RESPONDER_SUBCOMMANDS = (
    Subcommand("show", responder_show, SHOW, help=N_("who answers ideas here")),
    Subcommand("add", responder_add, {"fi": ("lisää", "lisaa", "nimeä", "nimea"), "sv": ("utse", "lägg", "lagg"),
                                      "en": ("add", "appoint")},
               help=N_("give a person the role (reply to their message, or mention them)"), usage=N_("[role]")),
    Subcommand("remove", responder_remove, {"fi": ("poista",), "sv": ("bort", "ta_bort"), "en": ("remove",)},
               help=N_("take the role from a person (reply to their message, or mention them)"), usage=N_("[role]")),
)

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
        Command("answer", answer_cmd, {"fi": ("vastaa",), "sv": ("svara",), "en": ("answer",)},
                help=N_("the official answer to an idea (the people who answer ideas here)"),
                usage=N_("<number> [experiment|project|done|archived] <answer>"), parse=parse_answer),
        Command("threshold", threshold_cmd, {"fi": ("kynnys",), "sv": ("troskel",), "en": ("threshold",)},
                help=N_("the support that sends an idea to those who answer it; admins set it"),
                usage=N_("[area] <supporters> <role> | off | reminder <days>"), parse=parse_threshold,
                subcommands=THRESHOLD_SUBCOMMANDS, default="show"),
        Command("responder", None, {"fi": ("vastaaja",), "sv": ("besvarare",), "en": ("responder",)},
                help=N_("who answers ideas here; admins name them (reply to their message)"),
                subcommands=RESPONDER_SUBCOMMANDS, default="show"),
    ],
    buttons={SUPPORT.action: support_button, PAGE.action: page_button, ANSWER.action: answer_button},
    jobs={REFER.kind: refer_job, REMIND.kind: remind_job},
    on_message=routing_on_message,  # an answer begun in private, else flow.on_message
    triggers=has_idea_marker,
    on_reaction=on_reaction,
    on_edit=on_edit,
    digest=ideas_digest,
    render_digest=render_ideas_digest,
    exports={"ideas": export_ideas},
)
