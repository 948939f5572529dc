"""The links feature's declarations: /linkitä [code] and /pura_linkitys, in private chats."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import Command, Feature
from handlers.links.flow import link_cmd, unlink_cmd

FEATURE = Feature(
    name="links",
    order=85,
    commands=[
        Command(
            "link", link_cmd, {"fi": ("linkita", "yhdista"), "sv": ("lanka", "koppla"), "en": ("link",)},
            help=N_("link your Telegram and Matrix accounts, so that you count once in area polls"),
            usage=N_("[<code>]"), private_only=True,
        ),
        Command(
            "unlink", unlink_cmd, {"fi": ("pura_linkitys",), "sv": ("avlanka",), "en": ("unlink",)},
            help=N_("undo the link of your accounts"), private_only=True,
        ),
    ],
)
