"""Webhook mode: PTB's own webhook server (tornado) on loopback, registered with the fake Bot
API, receiving updates as Telegram POSTs them, with the secret token checked on each one."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.telegram import build_application
from bot.config import TelegramConfig
from bot.errors import ConfigError
from bot.records import JobState
from tests.telegram_rig import running, world

SECRET = "webhook-secret-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_updates_arrive_by_webhook_and_a_wrong_secret_is_refused(tmp_path: Path) -> None:
    async with world(tmp_path) as w:
        port = free_port()
        url = f"http://127.0.0.1:{port}/telegram/hook"
        telegram = w.settings.telegram.model_copy(
            update={
                "webhook_url": url,
                "webhook_listen": "127.0.0.1",
                "webhook_port": port,
                "webhook_secret": SecretStr(SECRET),
            }
        )
        w.settings = w.settings.model_copy(update={"telegram": telegram})
        async with running(w) as bot:
            fake = w.fake
            assert fake.webhook is not None
            assert fake.webhook["url"] == url and fake.webhook["secret_token"] == SECRET
            assert not any(method == "getUpdates" for method, _ in fake.calls)

            alice = fake.user(11, "Alice", username="alice")
            fake.push_message(fake.private_chat(alice), alice, "/sora a kite over the sea")
            await fake.wait_for(lambda: len(fake.videos) == 1)
            await bot.core.wait_idle()
            job = await bot.core.s.jobs.find_by_message(
                "telegram", "11", str(fake.videos[0].message_id)
            )
            assert job is not None and job.state is JobState.DELIVERED

            forged = {"update_id": 999, "message": {"message_id": 1, "date": 0, "text": "/sora x"}}
            assert await fake.post_to_webhook(forged, secret="guess") == 403
            assert fake.webhook_answers[0] == 200
            assert len(fake.videos) == 1 and not any(
                method == "getUpdates" for method, _ in fake.calls
            )


@pytest.mark.parametrize("secret", [None, "", "has spaces", "x" * 257])
def test_webhook_mode_needs_a_secret_telegram_accepts(secret: str | None) -> None:
    """Without it, anyone who learns the URL could post updates as any user (a configured
    moderator included)."""
    config = TelegramConfig(
        token=SecretStr("1:a"),
        webhook_url="https://bot.example/hook",
        webhook_secret=SecretStr(secret) if secret is not None else None,
    )
    with pytest.raises(ConfigError, match="webhook_secret"):
        build_application(config)
    build_application(config.model_copy(update={"webhook_secret": SecretStr(SECRET)}))
