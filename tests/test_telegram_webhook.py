"""Webhook mode: PTB's own webhook server (tornado) on loopback, registered with the fake Bot
API, receiving updates as Telegram POSTs them, with the secret token checked on each one."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import SecretStr

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
