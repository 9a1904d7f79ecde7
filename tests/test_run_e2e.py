"""``sora-bot run`` as an operator runs it: a real subprocess against the simulator relay
and the fake Telegram Bot API, with logfmt logs and the metrics endpoint on.

It makes one video and one refused job through Telegram, scrapes ``/metrics`` and
``/healthz``, stops the bot with SIGTERM, and reads everything the process wrote: no key or
token may appear, every log line must be logfmt, and the job state lines must be there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.providers.simulator import Simulator
from tests.logfmt import parse_logfmt
from tests.telegram_fake import TOKEN, FakeBotApi

T = TypeVar("T")

API_KEY = "sk-e2e-c2VjcmV0LWtleS1mb3ItdGhlLXJlbGF5"
KEY_VARIABLE = "SORA_E2E_RELAY_KEY"
STOPPED = "sora-bot: stopped (SIGTERM)"  # main's last words, printed rather than logged
WITHIN = 20.0  # seconds any one step may take before the test gives up


def write_config(tmp_path: Path, sim: Simulator, fake: FakeBotApi) -> Path:
    path = tmp_path / "sora-bot.toml"
    path.write_text(
        f"""
[storage]
path = "{tmp_path / "data" / "bot.db"}"
media_dir = "{tmp_path / "data" / "media"}"

[telegram]
token = "{TOKEN}"
api_url = "{fake.url}"

[logging]
format = "logfmt"

[metrics]
port = 0
host = "127.0.0.1"

[[providers]]
name = "relay"
format = "videos"
base_url = "{sim.base_url}"
api_key_env = "{KEY_VARIABLE}"
models = ["sim-video"]
poll_interval = 0.05
""",
        encoding="utf-8",
    )
    return path


class Bot:
    """The subprocess and what it wrote so far."""

    def __init__(self, process: asyncio.subprocess.Process, stdout: Path, stderr: Path) -> None:
        self.process = process
        self.stdout = stdout
        self.stderr = stderr

    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, str]]:
        lines = self.stderr.read_text(errors="replace").splitlines()
        return [parse_logfmt(line) for line in lines if line and not line.startswith(STOPPED)]

    async def until(self, what: str, check: Callable[[], Awaitable[T | None]]) -> T:
        """Poll ``check`` until it gives a value; fail early if the bot dies."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WITHIN
        while True:
            result = await check()
            if result is not None:
                return result
            if self.process.returncode is not None:
                pytest.fail(f"sora-bot exited ({self.process.returncode}) before {what}")
            if loop.time() > deadline:
                pytest.fail(f"no {what} within {WITHIN}s:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.05)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


@pytest.mark.timeout(60)
async def test_sora_bot_run_serves_metrics_and_health_and_never_logs_a_secret(
    tmp_path: Path,
) -> None:
    async with (
        Simulator(
            tmp_path / "sim",
            api_key=API_KEY,
            job_seconds=0.5,
            poll_after_ms=50,
            video_seconds_cap=1.0,
        ) as sim,
        FakeBotApi() as fake,
    ):
        config = write_config(tmp_path, sim, fake)
        stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
        env = {**os.environ, KEY_VARIABLE: API_KEY, "LANG": "en_US.UTF-8"}
        env.pop("SORA_BOT_CONFIG", None)
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "-v", "--config", str(config), "run",
                stdout=out, stderr=err, cwd=tmp_path, env=env,
            )  # fmt: skip
        bot = Bot(process, stdout, stderr)
        try:
            await drive(bot, fake)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(WITHIN):
                returncode = await process.wait()

    assert returncode == 143, bot.output()[-3000:]
    output = bot.output()
    assert API_KEY not in output and TOKEN not in output
    assert TOKEN.split(":")[1] not in output  # not even the token's secret half
    assert "<token>" in output or "<redacted>" in output  # there were URLs to clean (-v)
    lines = bot.log_lines()  # every line parses as logfmt, or this raises
    jobs = [line for line in lines if line.get("msg") == "job state changed"]
    delivered = [line for line in jobs if line["state"] == "delivered"]
    assert len(delivered) == 1
    (done,) = delivered
    assert done["logger"] == "bot.jobs" and done["level"] == "info"
    assert done["user"] == "telegram:direct:42" and done["provider"] == "relay"
    assert done["model"] == "sim-video" and len(done["job"]) == 10
    assert float(done["total_s"]) >= float(done["generation_s"]) > 0
    failed = [line for line in jobs if line["state"] == "failed"]
    assert [line["error"] for line in failed] == ["content_policy"]
    states = [line["state"] for line in jobs if line["job"] == done["job"]]
    assert states == ["queued", "submitting", "running", "uploading", "delivered"]


async def drive(bot: Bot, fake: FakeBotApi) -> None:
    """Wait for the endpoint, make one video and one refusal, check metrics and health."""

    async def endpoint() -> str | None:
        for line in bot.log_lines():
            if line.get("msg") == "serving /metrics and /healthz":
                return line["url"]
        return None

    base = await bot.until("metrics endpoint", endpoint)
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:

        async def healthy() -> dict[str, object] | None:
            response = await client.get("/healthz")
            return response.json() if response.status_code == 200 else None

        await bot.until("healthy /healthz", healthy)
        user = fake.user(42, "Alice")
        chat = fake.private_chat(user)
        fake.push_message(chat, user, "/sora a paper boat on a rainy street")
        fake.push_message(chat, user, "/sora [sim:moderation] a storm")

        async def settled() -> Samples | None:
            found = samples((await client.get("/metrics")).text)
            done = sample(
                found, "sora_bot_job_transitions_total", provider="relay", state="delivered"
            )
            failed = sample(
                found, "sora_bot_job_transitions_total", provider="relay", state="failed"
            )
            return found if (done, failed) == (1.0, 1.0) else None

        found = await bot.until("both jobs settled in /metrics", settled)
        health = await client.get("/healthz")

    assert sample(found, "sora_bot_job_transitions_total", provider="relay", state="queued") == 2
    assert sample(found, "sora_bot_generation_seconds_count", provider="relay") == 1
    assert sample(found, "sora_bot_delivery_seconds_count", provider="relay") == 1
    assert sample(found, "sora_bot_queue_wait_seconds_count", provider="relay") == 2
    errors = "sora_bot_upstream_errors_total"
    assert sample(found, errors, provider="relay", category="content_policy") == 1
    assert sample(found, errors, provider="relay", category="transient") == 0
    for state in ("queued", "submitting", "running", "uploading"):
        assert sample(found, "sora_bot_jobs_active", provider="relay", state=state) == 0
    assert sample(found, "sora_bot_queue_waiting", provider="relay") == 0
    assert sample(found, "sora_bot_platform_rate_limited_total", platform="telegram") is not None
    assert len(fake.videos) == 1
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "platforms": {"telegram": True},
        "database": "writable",
    }
