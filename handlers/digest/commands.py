"""The digest's declarations: the command table with its subcommands, and the feature's hooks.

The digest feature has no buttons and no scheduled jobs: the weekly digests are made by a sweep
from the scheduler's tick (weekly.py), each record unique per chat and week in the store."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import Command, Feature, Subcommand
from handlers.digest.activity import activity_digest, on_event, render_activity
from handlers.digest.flow import (
    area_cmd,
    area_none,
    area_show,
    digest_off,
    digest_on,
    digest_show,
    digest_time,
    publish_cmd,
    publish_show,
    summary_cmd,
)
from handlers.digest.parse import (
    NONE_NAMES,
    OFF_WORDS,
    ON_WORDS,
    SHOW_WORDS,
    nothing_more,
    parse_area,
    parse_digest_time,
    parse_no_area,
    parse_publish,
    parse_publish_none,
    parse_summary,
)
from handlers.digest.weekly import on_start, on_stop, on_tick

#: ``/kooste`` alone shows this week so far; ``/kooste pe 16:00`` (the command's own handler) sets the time
DIGEST_SUBCOMMANDS = (
    Subcommand("show", digest_show, SHOW_WORDS, help=N_("this week so far"), parse=nothing_more),
    Subcommand("on", digest_on, ON_WORDS, help=N_("the weekly digest on again"), parse=nothing_more),
    Subcommand("off", digest_off, OFF_WORDS, help=N_("no weekly digest in this chat"), parse=nothing_more),
)
#: ``/alue`` alone shows the area, ``/alue <name>`` (the command's own handler) sets it
AREA_SUBCOMMANDS = (
    Subcommand("show", area_show, SHOW_WORDS, help=N_("the area this chat belongs to"), parse=nothing_more),
    Subcommand("none", area_none, NONE_NAMES, help=N_("take the chat out of its area"), parse=parse_no_area),
)
#: ``/julkaise`` alone shows the choices, ``/julkaise ideat kyselyt`` (the command's own handler) sets them
PUBLISH_SUBCOMMANDS = (
    Subcommand("show", publish_show, SHOW_WORDS, help=N_("what the area publishes as open data"),
               parse=nothing_more),
    Subcommand("none", publish_cmd, NONE_NAMES, help=N_("publish nothing as open data"),
               parse=parse_publish_none),
)

FEATURE = Feature(
    name="digest",
    order=900,
    commands=[
        Command("digest", digest_time, {"fi": ("kooste",), "sv": ("sammandrag",), "en": ("digest",)},
                help=N_("this week so far; admins: set the weekly digest's day and time, or off/on"),
                usage=N_("[weekday HH:MM | off | on]"), parse=parse_digest_time,
                subcommands=DIGEST_SUBCOMMANDS, default="show"),
        Command("area", area_cmd, {"fi": ("alue",), "sv": ("omrade",), "en": ("area",)},
                help=N_("show or set (admins) the area this chat belongs to"), usage=N_("[name | none]"),
                parse=parse_area, subcommands=AREA_SUBCOMMANDS, default="show"),
        Command("publish", publish_cmd, {"fi": ("julkaise",), "sv": ("publicera",), "en": ("publish",)},
                help=N_("show or choose (admins) what the area publishes as open data"),
                usage=N_("[ideas] [polls] [meetings] [profile] | none"), parse=parse_publish,
                subcommands=PUBLISH_SUBCOMMANDS, default="show"),
        Command("summary", summary_cmd, {"fi": ("yhteenveto",), "sv": ("sammanfattning",), "en": ("summary",)},
                help=N_("coordinators: all areas' digests of a week as files"), usage=N_("[week]"),
                parse=parse_summary, private_only=True),
    ],
    on_start=on_start,
    on_stop=on_stop,
    on_event=on_event,
    on_tick=on_tick,
    digest=activity_digest,
    render_digest=render_activity,
)
