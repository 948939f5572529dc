"""Ideas: capture by command or hashtag, tags, support, listing, lifecycle."""

from handlers.ideas.flow import (
    FEATURE,
    MAX_IDEA_CHARS,
    THEME_INDEX,
    THEMES,
    parse_idea,
    parse_list,
    parse_number,
    status_label,
)

__all__ = ["FEATURE", "MAX_IDEA_CHARS", "THEMES", "THEME_INDEX", "parse_idea", "parse_list", "parse_number",
           "status_label"]
