from datetime import UTC, datetime

import pytest

from bot.i18n_tool import missing
from core.i18n import Catalogs, format_datetime, resolve_language, use_locale


def test_every_user_facing_string_is_translated_in_fi_sv_en():
    assert missing() == []


def test_themes_have_labels_in_three_languages():
    from handlers.ideas import THEMES

    for theme in THEMES:
        assert set(theme.labels) == {"fi", "sv", "en"}, theme.id


@pytest.mark.parametrize(("lang", "expected"), [
    ("fi", "ti 1.12.2026 klo 18.00"),
    ("sv", "tis 1.12.2026 kl. 18.00"),
    ("en", "Tue 1 Dec 2026 18:00"),
])
def test_dates_in_helsinki_time(lang, expected):
    with use_locale(Catalogs(), lang):
        assert format_datetime(datetime(2026, 12, 1, 16, 0, tzinfo=UTC)) == expected


def test_summer_time_is_applied():
    with use_locale(Catalogs(), "fi"):
        assert format_datetime(datetime(2026, 6, 1, 15, 0, tzinfo=UTC)) == "ma 1.6.2026 klo 18.00"


def test_resolve_language():
    assert resolve_language(None, None, None) == "fi"
    assert resolve_language(None, "sv", "en") == "sv"
    assert resolve_language("en", "sv") == "en"
    assert resolve_language("pt-BR", "en_GB") == "en"
