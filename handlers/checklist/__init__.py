"""Self-assessment checklists (see docs/checklist.md). ``FEATURE`` is what ``load_features`` finds;
the other names are the ones code outside the package uses."""

from handlers.checklist.flow import (
    FEATURE,
    parse_start,
    parse_when,
    profile_chart,
    profile_figure,
    profile_text,
    render_digest,
)

__all__ = ["FEATURE", "parse_start", "parse_when", "profile_chart", "profile_figure", "profile_text",
           "render_digest"]
