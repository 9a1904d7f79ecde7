"""Configuration: a TOML file plus ``SORA_BOT_<SECTION>__<KEY>`` environment overrides.

The file is the one named by ``--config``, else ``$SORA_BOT_CONFIG``, else ``./sora-bot.toml``
(a missing default file is fine: everything can come from the environment). Tokens and keys
are ``SecretStr`` so they never print. Providers, formats and models come only from here:
nothing in the code assumes a model name.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import ConfigError
from bot.models import ModelCapabilities, Orientation, WireFormat

DEFAULT_CONFIG_FILE = Path("sora-bot.toml")
ENV_PREFIX = "SORA_BOT_"

# Per-format defaults, from upstream-api.md §1. A model entry in the config overrides them.
FORMAT_SECONDS: dict[WireFormat, tuple[int, ...]] = {
    WireFormat.VIDEOS: (4, 8, 12),
    WireFormat.UNIFIED: (10, 15),
    WireFormat.CHAT: (10, 15),
}
FORMAT_SIZES: dict[WireFormat, dict[Orientation, str]] = {
    WireFormat.VIDEOS: {Orientation.PORTRAIT: "720x1280", Orientation.LANDSCAPE: "1280x720"},
    WireFormat.UNIFIED: {Orientation.PORTRAIT: "small", Orientation.LANDSCAPE: "small"},
    WireFormat.CHAT: {Orientation.PORTRAIT: "9:16", Orientation.LANDSCAPE: "16:9"},
}
FORMAT_IMAGE_INPUT: dict[WireFormat, Literal["file", "url", "both", "none"]] = {
    WireFormat.VIDEOS: "file",
    WireFormat.UNIFIED: "url",
    WireFormat.CHAT: "both",
}

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Section):
    """A model a provider serves, with what it accepts. A bare string takes the defaults."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    seconds: list[Annotated[int, Field(gt=0, le=600)]] | None = None
    default_seconds: int | None = None
    sizes: dict[Orientation, str] | None = None
    cost: Annotated[int, Field(ge=0)] = 1

    @model_validator(mode="after")
    def _default_in_seconds(self) -> ModelConfig:
        if self.seconds is not None and not self.seconds:
            raise ValueError("seconds must list at least one duration")
        if (
            self.default_seconds is not None
            and self.seconds is not None
            and self.default_seconds not in self.seconds
        ):
            raise ValueError(f"default_seconds {self.default_seconds} is not in seconds")
        return self


class ProviderConfig(_Section):
    name: Name
    format: WireFormat
    base_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    api_key: SecretStr | None = None
    api_key_env: str | None = None  # name of an environment variable holding the key
    models: Annotated[list[str | ModelConfig], Field(min_length=1)]
    max_concurrent: Annotated[int, Field(ge=1, le=1000)] = 2
    poll_interval: Annotated[float, Field(gt=0)] = 12.0  # seconds, when the relay gives no hint
    deadline_minutes: Annotated[float, Field(gt=0)] = 30.0
    request_timeout: Annotated[float, Field(gt=0)] = 60.0
    download_max_mb: Annotated[int, Field(gt=0)] = 512
    bills_failures: bool = False  # seed 000: some chat relays bill failed calls too
    image_input: Literal["file", "url", "both", "none"] | None = None

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check(self) -> ProviderConfig:
        names = [m if isinstance(m, str) else m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model listed twice: {', '.join(duplicates)}")
        if self.api_key is None and self.api_key_env is None:
            raise ValueError("needs api_key (or api_key_env naming a variable that holds it)")
        return self

    def key(self, environ: Mapping[str, str] | None = None) -> str:
        """The API key, read from ``api_key_env`` when that is how it was given."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        env = os.environ if environ is None else environ
        value = env.get(self.api_key_env or "")
        if not value:
            raise ConfigError(
                f"providers.{self.name}.api_key_env: variable {self.api_key_env} is not set"
            )
        return value

    def model_capabilities(self) -> dict[str, ModelCapabilities]:
        caps: dict[str, ModelCapabilities] = {}
        for entry in self.models:
            spec = ModelConfig(name=entry) if isinstance(entry, str) else entry
            seconds = tuple(spec.seconds or FORMAT_SECONDS[self.format])
            sizes = {**FORMAT_SIZES[self.format], **(spec.sizes or {})}
            caps[spec.name] = ModelCapabilities(
                name=spec.name,
                seconds=seconds,
                default_seconds=spec.default_seconds or seconds[0],
                orientations=tuple(sizes),
                sizes=sizes,
                cost=spec.cost,
            )
        return caps

    @property
    def image_mode(self) -> Literal["file", "url", "both", "none"]:
        return self.image_input or FORMAT_IMAGE_INPUT[self.format]


class StorageConfig(_Section):
    path: Path = Path("data/sora-bot.db")
    media_dir: Path = Path("data/media")  # downloaded videos wait here until delivered


class TelegramConfig(_Section):
    token: SecretStr | None = None
    api_url: str = "https://api.telegram.org"  # Bot API server root
    upload_limit_mb: Annotated[int, Field(gt=0, le=2000)] = 50
    moderators: list[str] = []  # user ids or @usernames, moderators in every chat
    webhook_url: str | None = None  # public URL; long polling when unset
    webhook_port: int = 8443
    webhook_secret: SecretStr | None = None


class DiscordConfig(_Section):
    token: SecretStr | None = None
    guild_ids: list[int] = []  # sync commands to these guilds (instant) instead of globally
    message_content: bool = False  # privileged intent: enables reply-to-continue
    moderator_roles: list[str] = []  # role names or ids
    moderators: list[str] = []  # user ids
    sharded: bool = False


class QuotaConfig(_Section):
    period: Literal["day", "week", "month"] = "day"
    default_limit: Annotated[int, Field(ge=0)] = 5
    refund_on_failure: bool = True
    reset_hour: Annotated[int, Field(ge=0, le=23)] = 0
    timezone: str = "UTC"
    moderators_unlimited: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class BotConfig(_Section):
    locale: Literal["en", "zh"] = "en"  # when the platform does not say
    prompt_max_chars: Annotated[int, Field(gt=0)] = 2000
    max_jobs_per_user: Annotated[int, Field(ge=1)] = 2
    moderators: list[str] = []  # "platform:user_id", moderators everywhere


class Settings(BaseSettings):
    """The whole configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    storage: StorageConfig = StorageConfig()
    telegram: TelegramConfig = TelegramConfig()
    discord: DiscordConfig = DiscordConfig()
    providers: list[ProviderConfig] = []
    quota: QuotaConfig = QuotaConfig()
    bot: BotConfig = BotConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's contents arrive as init kwargs; the environment overrides them.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _unique_providers(self) -> Settings:
        names = [p.name for p in self.providers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"provider name used twice: {', '.join(duplicates)}")
        return self

    def provider(self, name: str) -> ProviderConfig:
        for provider in self.providers:
            if provider.name == name:
                return provider
        known = ", ".join(p.name for p in self.providers) or "none configured"
        raise ConfigError(f"providers: no provider named {name!r} (known: {known})")


def config_path(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path:
    """``--config``, else ``$SORA_BOT_CONFIG``, else ``./sora-bot.toml``."""
    if explicit:
        return Path(explicit)
    if environ.get("SORA_BOT_CONFIG"):
        return Path(environ["SORA_BOT_CONFIG"])
    return DEFAULT_CONFIG_FILE


def load_settings(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read and validate the configuration, or raise a one-line :class:`ConfigError`."""
    env = os.environ if environ is None else environ
    path = config_path(explicit, env)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    elif explicit or env.get("SORA_BOT_CONFIG"):
        raise ConfigError(f"{path}: no such config file")
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, data)) from exc


def describe_validation_error(exc: ValidationError, data: Mapping[str, Any] | None = None) -> str:
    """One line: ``key.path: reason; other.key: reason``. Never echoes a secret's value."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        parts.append(f"{_dotted(err['loc'], data or {})}: {err['msg']}")
    return "; ".join(parts)


def _dotted(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """``('providers', 0, 'format')`` → ``providers[0].format`` (or ``providers.relay.format``)."""
    out: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            name = None
            if isinstance(node, list) and part < len(node) and isinstance(node[part], dict):
                name = node[part].get("name")
            out[-1] = f"{out[-1]}.{name}" if isinstance(name, str) else f"{out[-1]}[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            # union members show up as extra path parts ("str", "ModelConfig"): drop them
            if part in ("str", "ModelConfig", "function-after[_check(), ProviderConfig]"):
                continue
            out.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(out) or "config"
