"""Configuration: TOML file, environment overrides, one-line errors, secrets kept secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings, config_path, load_settings
from bot.errors import ConfigError
from bot.models import Orientation, WireFormat

CONTRACT = """
[storage]
path = "data/sora-bot.db"
[telegram]
token = "123456:ABC"
api_url = "https://api.telegram.org"
upload_limit_mb = 50
[discord]
token = "discord-secret-token"
[[providers]]
name = "relay"
format = "videos"
base_url = "https://relay.example/v1/"
api_key = "sk-very-secret"
models = ["sora-2", {name = "sora-2-pro", seconds = [4, 8, 12], cost = 2}]
max_concurrent = 2
[quota]
period = "day"
default_limit = 5
refund_on_failure = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sora-bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_public_contract_keys_load(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, CONTRACT), environ={})
    relay = settings.provider("relay")
    assert relay.format is WireFormat.VIDEOS
    assert relay.base_url == "https://relay.example/v1"
    assert relay.key() == "sk-very-secret"
    caps = relay.model_capabilities()
    assert caps["sora-2"].seconds == (4, 8, 12)
    assert caps["sora-2"].sizes[Orientation.LANDSCAPE] == "1280x720"
    assert caps["sora-2-pro"].cost == 2
    assert settings.telegram.upload_limit_mb == 50
    assert settings.quota.default_limit == 5


def test_secrets_never_print(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, CONTRACT), environ={})
    dumped = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("sk-very-secret", "123456:ABC", "discord-secret-token"):
        assert secret not in dumped


def test_environment_overrides_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_BOT_QUOTA__DEFAULT_LIMIT", "9")
    monkeypatch.setenv("SORA_BOT_TELEGRAM__TOKEN", "env-token")
    settings = load_settings(write(tmp_path, CONTRACT))
    assert settings.quota.default_limit == 9
    assert settings.quota.period == "day"  # the rest of the section still comes from the file
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == "env-token"


def test_an_empty_variable_means_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """.env.example leaves the tokens of unused platforms empty: no adapter may start."""
    monkeypatch.setenv("SORA_BOT_DISCORD__TOKEN", "")
    monkeypatch.setenv("SORA_BOT_QUOTA__DEFAULT_LIMIT", "")
    settings = load_settings(write(tmp_path, CONTRACT))
    assert settings.discord.token is not None  # the file's value, not ""
    assert settings.discord.token.get_secret_value() == "discord-secret-token"
    assert settings.quota.default_limit == 5  # the file's
    monkeypatch.setenv("SORA_BOT_TELEGRAM__TOKEN", "")
    assert Settings().telegram.token is None  # no file, empty variable: not configured


def test_api_key_from_named_variable(tmp_path: Path) -> None:
    text = CONTRACT.replace('api_key = "sk-very-secret"', 'api_key_env = "RELAY_KEY"')
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.provider("relay").key({"RELAY_KEY": "sk-from-env"}) == "sk-from-env"
    with pytest.raises(ConfigError, match="RELAY_KEY is not set"):
        settings.provider("relay").key({})


def test_file_resolution_order(tmp_path: Path) -> None:
    assert config_path("given.toml", {"SORA_BOT_CONFIG": "env.toml"}) == Path("given.toml")
    assert config_path(None, {"SORA_BOT_CONFIG": "env.toml"}) == Path("env.toml")
    assert config_path(None, {}) == Path("sora-bot.toml")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ('period = "day"', 'period = "year"'),
            "quota.period: Input should be 'day', 'week' or 'month'",
        ),
        (('format = "videos"', 'format = "mp4"'), "providers.relay.format:"),
        (("max_concurrent = 2", "max_concurrent = 0"), "providers.relay.max_concurrent:"),
        (('api_key = "sk-very-secret"', ""), "providers.relay: Value error, needs api_key"),
        (("upload_limit_mb = 50", "upload_limit_mb = 5000"), "telegram.upload_limit_mb:"),
        (
            ("[quota]", '[quota]\ntimezone = "Mars/Base"'),
            "quota.timezone: Value error, unknown time zone",
        ),
        (("[quota]", "[quota]\nbogus = 1"), "quota.bogus: Extra inputs are not permitted"),
    ],
)
def test_invalid_config_is_one_line_naming_the_key(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, CONTRACT.replace(*edit)), environ={})
    message = str(info.value)
    assert "\n" not in message
    assert expected in message
    assert "sk-very-secret" not in message


def test_cli_reports_config_error_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, CONTRACT.replace('period = "day"', 'period = "year"'))
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sora-bot: config error: quota.period:")
    assert len(err.splitlines()) == 1


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_bad_toml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[quota\n"), environ={})
