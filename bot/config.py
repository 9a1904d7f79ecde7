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
    # use_attribute_docstrings: the docstring under each field becomes its description,
    # which ``sora-bot config-reference`` renders into the README (so it cannot drift)
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class ModelConfig(_Section):
    """A model a provider serves, with what it accepts. A bare string takes the defaults."""

    name: Annotated[str, Field(min_length=1, max_length=128)]
    """The model name as the relay knows it (sent upstream verbatim)."""
    seconds: list[Annotated[int, Field(gt=0, le=600)]] | None = None
    """Durations it accepts, in seconds; unset: the format's (videos 4, 8, 12; others 10, 15)."""
    default_seconds: int | None = None
    """Duration when the user gives none; unset: the first of `seconds`."""
    sizes: dict[Orientation, str] | None = None
    """What to send per orientation, e.g. `{portrait = "720x1280"}`; unset: the format's."""
    cost: Annotated[int, Field(ge=0)] = 1
    """Credits one video of this model costs."""

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
    """One relay (an OpenAI-compatible video API) and the models it serves."""

    name: Name
    """Your name for the relay (letters, digits, `_.-`); users pick it with `--provider`."""
    format: WireFormat
    """Its wire format: `videos` (/v1/videos), `unified` (/v1/video/create) or `chat`."""
    base_url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    """The relay's API root, e.g. `https://relay.example/v1`."""
    api_key: SecretStr | None = None
    """The API key; prefer `api_key_env`, which keeps the key out of the file."""
    api_key_env: str | None = None
    """Name of an environment variable holding the API key."""
    models: Annotated[list[str | ModelConfig], Field(min_length=1)]
    """The models it serves: names, or tables as in `[[providers.models]]` below."""
    max_concurrent: Annotated[int, Field(ge=1, le=1000)] = 2
    """Jobs running at once on this relay (its per-key cap); more wait in line."""
    poll_interval: Annotated[float, Field(gt=0)] = 12.0
    """Seconds between status polls when the relay gives no hint."""
    deadline_minutes: Annotated[float, Field(gt=0)] = 30.0
    """A job gives up after this many minutes."""
    request_timeout: Annotated[float, Field(gt=0)] = 60.0
    """Seconds to wait for one HTTP request to the relay."""
    download_max_mb: Annotated[int, Field(gt=0)] = 512
    """Refuse to download a finished video larger than this many MB."""
    bills_failures: bool = False  # seed 000
    """The relay bills failed calls too (some chat relays do): failures are not refunded."""
    image_input: Literal["file", "url", "both", "none"] | None = None
    """How it takes a starting image; unset: the format's (videos file, unified url, chat both)."""

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
    """Where the bot keeps its state."""

    path: Path = Path("data/sora-bot.db")
    """The SQLite database (WAL mode: its `-wal` and `-shm` files sit next to it)."""
    media_dir: Path = Path("data/media")
    """Where downloaded videos wait until they are delivered."""


class TelegramConfig(_Section):
    """The Telegram bot: it runs when a token is set."""

    token: SecretStr | None = None
    """The bot token from @BotFather."""
    api_url: str = "https://api.telegram.org"
    """The Bot API server root (a self-hosted one allows uploads up to 2000 MB)."""
    upload_limit_mb: Annotated[int, Field(gt=0, le=2000)] = 50
    """Largest upload in MB; a bigger video is shrunk to fit, or sent as a link."""
    moderators: list[str] = []
    """User ids or @usernames who are moderators in every chat."""
    webhook_url: str | None = None
    """The public HTTPS URL for webhook mode; long polling when unset."""
    webhook_listen: str = "0.0.0.0"
    """The local address the webhook server binds (behind a reverse proxy: 127.0.0.1)."""
    webhook_port: int = 8443
    """The local port the webhook server listens on."""
    webhook_secret: SecretStr | None = None
    """Required in webhook mode: the secret Telegram sends with every webhook call
    (checked on each one; letters, digits, `_` and `-`, up to 256)."""


class DiscordConfig(_Section):
    """The Discord bot: it runs when a token is set."""

    token: SecretStr | None = None
    """The bot token from the Discord developer portal."""
    guild_ids: list[int] = []
    """Sync the slash commands to these guilds (instant) instead of globally."""
    message_content: bool = False
    """Use the privileged message content intent: enables reply-to-continue."""
    moderator_roles: list[str] = []
    """Role names or ids whose members are moderators."""
    moderators: list[str] = []
    """User ids who are moderators in every guild."""
    sharded: bool = False
    """Run with automatic sharding (for bots in very many guilds)."""
    edit_interval: Annotated[float, Field(ge=1.0, le=60.0)] = 1.25
    """Seconds between two status edits in one channel, all jobs together (Discord allows
    about 5 per 5 s per channel)."""
    job_edit_interval: Annotated[float, Field(ge=0.0, le=60.0)] = 2.0
    """Seconds between two progress edits of one job's status message."""


class QuotaConfig(_Section):
    """Credits: how many videos each user may make per period."""

    period: Literal["day", "week", "month"] = "day"
    """The quota period; a week starts on Monday, a month on the 1st."""
    default_limit: Annotated[int, Field(ge=0)] = 5
    """Credits per period for users without a custom limit."""
    refund_on_failure: bool = True
    """Give the credits back when a job fails for a refundable reason."""
    reset_hour: Annotated[int, Field(ge=0, le=23)] = 0
    """The local hour at which a period starts."""
    timezone: str = "UTC"
    """The IANA time zone of `reset_hour`, e.g. `Asia/Shanghai`."""
    moderators_unlimited: bool = True
    """Moderators make videos without spending credits."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class BotConfig(_Section):
    """Behaviour shared by every platform."""

    locale: Literal["en", "zh"] = "en"
    """The language when the platform does not say which one the user reads."""
    prompt_max_chars: Annotated[int, Field(gt=0)] = 2000
    """The longest prompt accepted, in characters."""
    max_jobs_per_user: Annotated[int, Field(ge=1)] = 2
    """Jobs one user may have queued or running at once."""
    moderators: list[str] = []
    """`"platform:user_id"` entries (e.g. `"telegram:42"`): moderators everywhere."""


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LoggingConfig(_Section):
    """What the bot writes to stderr. Tokens and keys are replaced by `<redacted>` always."""

    format: Literal["text", "logfmt", "json"] = "text"
    """`text` for people, `logfmt` (key=value) or `json` (one object a line) for collectors."""
    level: LogLevel | None = None
    """The lowest level written; unset: `INFO` for `run` (one line per job state change),
    `WARNING` for the interactive commands. `-v` means `DEBUG`."""


class MetricsConfig(_Section):
    """The optional HTTP endpoint with `/metrics` (Prometheus) and `/healthz`."""

    port: Annotated[int, Field(ge=0, le=65535)] | None = None
    """The port to serve on; unset: no endpoint. `0` picks a free port (logged at start)."""
    host: str = "127.0.0.1"
    """The address to bind; `0.0.0.0` to be scraped from outside (a container)."""


class Settings(BaseSettings):
    """The whole configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        # an empty variable (``SORA_BOT_DISCORD__TOKEN=`` as .env.example has it) means
        # "not set", not an empty token that would start an adapter bound to fail
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )

    storage: StorageConfig = StorageConfig()
    telegram: TelegramConfig = TelegramConfig()
    discord: DiscordConfig = DiscordConfig()
    providers: list[ProviderConfig] = []
    """The relays, one `[[providers]]` table each; `run` needs at least one."""
    quota: QuotaConfig = QuotaConfig()
    bot: BotConfig = BotConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()

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
