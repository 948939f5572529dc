"""Ideas: capture by command or hashtag, tags, support, listing, lifecycle.

``commands`` declares the feature; ``parse`` and ``render`` are pure, ``themes`` reads
data/themes.toml; ``flow`` captures, lists and moves ideas, ``support`` counts 👍, ``cards``
keeps an idea's message current, ``digest`` reports and exports."""

from handlers.ideas.commands import FEATURE
from handlers.ideas.parse import MAX_IDEA_CHARS, parse_idea, parse_list, parse_number
from handlers.ideas.render import status_label
from handlers.ideas.themes import THEME_INDEX, THEMES

__all__ = ["FEATURE", "MAX_IDEA_CHARS", "THEMES", "THEME_INDEX", "parse_idea", "parse_list", "parse_number",
           "status_label"]
