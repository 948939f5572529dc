"""The privacy feature's declarations: /omattiedot and /unohdaminut (with its confirm word)."""

from __future__ import annotations

from core.i18n import N_
from handlers.base import Command, Feature, Subcommand
from handlers.privacy.flow import confirm_button, confirm_cmd, forget_cmd, mydata_cmd
from handlers.privacy.keys import CONFIRM

FEATURE = Feature(
    name="privacy",
    order=90,
    commands=[
        Command(
            "mydata", mydata_cmd, {"fi": ("omattiedot",), "sv": ("minadata",), "en": ("mydata",)},
            help=N_("get everything I keep about you, as a file"), private_only=True,
        ),
        Command(
            "forgetme", forget_cmd, {"fi": ("unohdaminut",), "sv": ("glommig",), "en": ("forgetme",)},
            help=N_("erase what I keep about you (asks you to confirm)"), private_only=True,
            subcommands=(
                Subcommand("confirm", confirm_cmd, {"fi": ("vahvista",), "sv": ("bekrafta",), "en": ("confirm",)},
                           help=N_("erase now (after the request, within 10 minutes)"), private_only=True),
            ),
        ),
    ],
    buttons={CONFIRM.action: confirm_button},
)
