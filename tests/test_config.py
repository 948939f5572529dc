import logging

import pytest

from bot.config import ConfigError, load_settings
from bot.logs import RedactSecrets


def test_defaults_are_embedded_sqlite_and_console(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.resolved_database_url() == "sqlite+aiosqlite:///kehrabot-data/kehrabot.sqlite3"
    assert s.active_transports() == ["console"]


def test_toml_file_and_environment(monkeypatch, tmp_path):
    cfg = tmp_path / "k.toml"
    cfg.write_text('default_language = "sv"\ndatabase_url = "postgresql://u@h/db"\n[telegram]\ntoken = "123:file"\n')
    monkeypatch.setenv("KEHRABOT_TELEGRAM__TOKEN", "123:env")
    s = load_settings(cfg)
    assert s.default_language == "sv"
    assert s.resolved_database_url() == "postgresql+asyncpg://u@h/db"
    assert s.telegram.secret_token() == "123:env"  # environment wins
    assert "123:env" not in repr(s) and "123:env" not in str(s.telegram)
    assert s.active_transports() == ["telegram"]


def test_secret_from_file(tmp_path):
    (tmp_path / "tok").write_text("999:secret\n")
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'[telegram]\ntoken_file = "{tmp_path / "tok"}"\n')
    assert load_settings(cfg).telegram.secret_token() == "999:secret"


@pytest.mark.parametrize(("content", "env", "needle"), [
    ('log_level = "LOUD"', {}, "config error: log_level (KEHRABOT_LOG_LEVEL):"),
    ("[telegram]\nwebhook_port = 0", {}, "config error: telegram.webhook_port (KEHRABOT_TELEGRAM__WEBHOOK_PORT):"),
    ("colour = 1", {}, "config error: colour (KEHRABOT_COLOUR): unknown setting"),
    ("", {"KEHRABOT_TIMEZONE": "Mars/Olympus"}, "config error: timezone (KEHRABOT_TIMEZONE):"),
    ("this is = not toml [", {}, "config error:"),
])
def test_wrong_value_is_one_line_naming_the_key(tmp_path, monkeypatch, content, env, needle):
    cfg = tmp_path / "k.toml"
    cfg.write_text(content)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert str(err.value).startswith(needle)
    assert "\n" not in str(err.value)


def test_tokens_never_reach_the_log(caplog):
    logger = logging.getLogger("test.redact")
    logger.addFilter(RedactSecrets(["123456:ABCDEF-secret"]))
    with caplog.at_level(logging.INFO):
        logger.info("POST https://api.telegram.org/bot%s/getUpdates", "123456:ABCDEF-secret")
    assert "ABCDEF" not in caplog.text and "[redacted]" in caplog.text
