"""The meetings feature's declarations: its commands, the settings' subcommands and FEATURE.
Button data and job keys are declared in ``keys``."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import SHOW_NAMES, Command, Feature, Subcommand
from handlers.meetings.digest import digest, export_meetings, render_digest
from handlers.meetings.feed import ROUTES, new_cmd, subscribe_cmd
from handlers.meetings.flow import (
    cancel_cmd,
    list_cmd,
    meeting_cmd,
    move_cmd,
    on_reaction,
    rsvp_button,
    rsvp_cmd,
    show_cmd,
    skip_cmd,
)
from handlers.meetings.ics import calendar_cmd
from handlers.meetings.jobs import remind_job, roll_job
from handlers.meetings.keys import (
    ANNOUNCE_TIME_POLL,
    CLOSE_TIME_POLL,
    REFRESH_TIME_POLL,
    REMIND,
    ROLL,
    RSVP,
    TIME,
    TIME_POLL_COPIES,
)
from handlers.meetings.parse import (
    meeting_number,
    parse_number_rest,
    parse_offsets,
    parse_optional_number,
    parse_quiet,
    parse_rsvp,
)
from handlers.meetings.settings import quiet_cmd, reminders_cmd, settings_cmd
from handlers.meetings.timepoll import (
    close_job,
    copies_job,
    parse_pick,
    pick_cmd,
    propose_cmd,
    refresh_job,
    time_button,
)

#: /kokous 3 (or /kokous näytä 3) shows meeting 3; /kokous ehdota … a time poll, /kokous valitse … picks
#: its time; anything else schedules one (admins)
SHOW = (Subcommand("show", show_cmd, SHOW_NAMES, help=N_("show a meeting with who is coming"), usage=N_("<number>"),
                   parse=meeting_number),
        Subcommand("propose", propose_cmd, {"fi": ("ehdota",), "sv": ("föreslå", "foresla"), "en": ("propose",)},
                   help=N_("offer times to choose from; the best one becomes the meeting (“area”: in every "
                           "chat of the area)"),
                   usage=N_("[area] <time> [title] [@ place] | <time> | … [closes <time>]")),
        Subcommand("pick", pick_cmd, {"fi": ("valitse",), "sv": ("välj", "valj"), "en": ("pick",)},
                   help=N_("close a time poll now with time N (or the best one)"),
                   usage=N_("<poll number> [time number]"), parse=parse_pick))

#: /kalenteri tilaa: the chat's (or area's) feed link in private; /kalenteri uusi: a new link (admins)
CALENDAR = (
    Subcommand("subscribe", subscribe_cmd, {"fi": ("tilaa",), "sv": ("prenumerera",), "en": ("subscribe",)},
               help=N_("a calendar link to subscribe to, sent in private (add “area” for the area's)"),
               usage=N_("[area]")),
    Subcommand("new", new_cmd, {"fi": ("uusi",), "sv": ("ny",), "en": ("new",)},
               help=N_("a new calendar link; the old one stops working"), usage=N_("[area]")),
)

#: /kokousasetukset <setting> <value>; with none the settings are shown (settings_cmd)
SETTINGS = (
    Subcommand("reminders", reminders_cmd, {"fi": ("muistutukset", "muistutus"), "sv": ("påminnelser",),
                                            "en": ("reminders",)},
               help=N_("reminder times before a meeting"), usage=N_("1 d, 1 h | off"), parse=parse_offsets),
    Subcommand("quiet", quiet_cmd, {"fi": ("hiljaisuus", "hiljainen"), "sv": ("tyst", "tysta"), "en": ("quiet",)},
               help=N_("quiet hours for day-before reminders"), usage=N_("21-8 | off"), parse=parse_quiet),
)

FEATURE = Feature(
    name="meetings",
    commands=[
        Command("meeting", meeting_cmd, {"fi": ("kokous",), "sv": ("mote",), "en": ("meeting",)},
                help=N_("schedule a meeting (admins), or show meeting N with who is coming"),
                usage=N_("<when> <title> [@ place] | <number>"), subcommands=SHOW, numbered="show"),
        Command("meetings", list_cmd, {"fi": ("kokoukset",), "sv": ("moten",), "en": ("meetings",)},
                help=N_("list the upcoming meetings")),
        Command("rsvp", rsvp_cmd, {"fi": ("osallistun",), "sv": ("osa",), "en": ("rsvp",)},
                help=N_("answer whether you come to a meeting"), usage=N_("<number> yes|no|maybe"),
                parse=parse_rsvp),
        Command("skipmeeting", skip_cmd, {"fi": ("ohitakokous",), "sv": ("hoppaovermote",), "en": ("skipmeeting",)},
                help=N_("skip one meeting of a series"), usage=N_("<number> [date]"), parse=parse_number_rest),
        Command("movemeeting", move_cmd, {"fi": ("siirrakokous",), "sv": ("flyttamote",), "en": ("movemeeting",)},
                help=N_("move the next meeting (or the one on a date) to a new time"),
                usage=N_("<number> [date ->] <new time>"), parse=parse_number_rest),
        Command("cancelmeeting", cancel_cmd, {"fi": ("perukokous",), "sv": ("stallinmote",),
                                              "en": ("cancelmeeting",)},
                help=N_("cancel a meeting or a whole series"), usage=N_("<number>"), parse=meeting_number),
        Command("calendar", calendar_cmd, {"fi": ("kalenteri",), "sv": ("kalender",), "en": ("calendar",)},
                help=N_("the chat's meetings as an .ics calendar file (or one meeting's)"), usage=N_("[number]"),
                parse=parse_optional_number, subcommands=CALENDAR),
        Command("meetingsettings", settings_cmd, {"fi": ("kokousasetukset",), "sv": ("motesinstallningar",),
                                                  "en": ("meetingsettings",)},
                help=N_("reminder times and quiet hours for meetings"),
                usage=N_("[reminders 1 d, 1 h | off] [quiet 21-8 | off]"), subcommands=SETTINGS),
    ],
    buttons={RSVP.action: rsvp_button, TIME.action: time_button},
    on_reaction=on_reaction,
    jobs={REMIND.kind: remind_job, ROLL.kind: roll_job, CLOSE_TIME_POLL.kind: close_job,
          ANNOUNCE_TIME_POLL.kind: close_job, REFRESH_TIME_POLL.kind: refresh_job,
          TIME_POLL_COPIES.kind: copies_job},
    digest=digest,
    render_digest=render_digest,
    exports={"meetings": export_meetings},
    http_routes=ROUTES,
)
