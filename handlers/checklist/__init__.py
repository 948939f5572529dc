"""Self-assessment checklists (see docs/checklist.md). ``FEATURE`` is what ``load_features`` finds;
the other names are the ones code outside the package uses.

- ``commands.py`` the declarations: the command and its subcommands, buttons, jobs
- ``format.py`` a checklist file: its model, loading and validation; ``profile.py`` a round's numbers
- ``parse.py``, ``render.py`` pure functions: the subcommands' words; questions, profiles, charts
- ``flow.py`` answering, one question at a time; ``buttons.py`` its buttons
- ``rounds.py`` start, close, mode, share; ``views.py`` profile, compare, areas
- ``jobs.py`` closing and reminding; ``digest.py`` the weekly digest and the exports
"""

from handlers.checklist.commands import FEATURE
from handlers.checklist.digest import render_digest
from handlers.checklist.parse import parse_start, parse_when
from handlers.checklist.render import profile_chart, profile_figure, profile_text

__all__ = ["FEATURE", "parse_start", "parse_when", "profile_chart", "profile_figure", "profile_text",
           "render_digest"]
