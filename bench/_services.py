"""The other side of the wire for ``bench/load.py``, each in a child process: the relay
(the simulator) and the fake platforms of the tests (Telegram's Bot API, Discord's REST +
gateway). Their CPU and memory are theirs, not the bot's; they report what they saw.

Times reported are ``time.monotonic`` values (system-wide on Linux), so the parent can
compare them with its own: when each job was complete upstream, when the bot started
downloading it, when its video arrived on the platform.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import ScaledClock, run_child, serve_commands

TAG = re.compile(r"bench(\d+)\b")  # every benchmark prompt carries ``bench<n>``


def tag_of(text: str) -> int | None:
    """The job number in a prompt, caption or status text (``bench17 …`` → 17)."""
    found = TAG.search(text)
    return int(found.group(1)) if found else None


# --------------------------------------------------------------------------- the relay


def simulator(
    conn: Connection, media_dir: str, job_seconds: float, poll_after_ms: int, latency: float
) -> None:
    """The simulator relay. ``times`` answers, per job number: its nominal end
    (``started + job_seconds``), when the relay had its video ready (the simulator renders
    it when a poll first finds the job past its end, and answers "completed" only then)
    and when the bot first asked for the video. Every answer waits ``latency`` seconds
    first: a remote relay's round trip."""
    from aiohttp import web
    from aiohttp.typedefs import Handler, Middleware

    from bot.providers import synth
    from bot.providers.simulator import Simulator, media

    # The relay's own work is not what is measured: rendering 1,000 MP4s at the moment
    # their jobs end (about 50 ms of pure Python each) would starve this process's event
    # loop and delay the relay's answers by tens of seconds. Each size is rendered once,
    # and every job of that size gets a copy.
    rendered: dict[tuple[float, int, int], Path] = {}
    rendering = threading.Lock()  # renders run in worker threads: one writes a template

    def copy_of_template(path: Path, *, seconds: float, width: int, height: int, seed: int) -> Path:
        key = (seconds, width, height)
        with rendering:
            if key not in rendered:
                template = Path(media_dir) / f"template-{width}x{height}-{seconds}.mp4"
                rendered[key] = synth.synthesize_mp4(
                    template, seconds=seconds, width=width, height=height
                )
        shutil.copyfile(rendered[key], path)
        return path

    media.synthesize_mp4 = copy_of_template  # type: ignore[assignment]

    class RemoteSimulator(Simulator):
        """The simulator, ``latency`` seconds away."""

        def _middleware(self) -> Middleware:
            inner = super()._middleware()

            @web.middleware
            async def far(request: web.Request, handler: Handler) -> web.StreamResponse:
                await asyncio.sleep(latency)
                return await inner(request, handler)

            return far

    async def main() -> None:
        async with RemoteSimulator(
            Path(media_dir),
            job_seconds=job_seconds,
            poll_after_ms=poll_after_ms,
            video_scale=0.1,
            video_seconds_cap=1.0,
        ) as sim:
            ready: dict[str, float] = {}
            fetched: dict[str, float] = {}

            async def watch() -> None:  # to 10 ms, from a public field of the jobs
                while True:
                    await asyncio.sleep(0.01)
                    now = time.monotonic()
                    for job in sim.jobs.values():
                        if job.video_path is not None and job.id not in ready:
                            ready[job.id] = now
                        if job.content_fetches and job.id not in fetched:
                            fetched[job.id] = now

            async def handle(command: str, payload: Any) -> Any:
                assert command == "times", command
                return {
                    n: {
                        "nominal": job.started + job_seconds,
                        "ready": ready.get(job.id),
                        "fetched": fetched.get(job.id),
                    }
                    for job in sim.jobs.values()
                    if (n := tag_of(job.prompt)) is not None
                }

            watcher = asyncio.create_task(watch())
            await serve_commands(conn, sim.base_url, handle)
            watcher.cancel()

    run_child(conn, main)


# --------------------------------------------------------------------------- Telegram


def telegram(conn: Connection, clock: ScaledClock) -> None:
    """The fake Bot API of the tests, its flood control on ``clock``. ``push`` queues
    ``/sora`` messages ``[(chat_id, user_id, text)]``; ``report`` tells what arrived."""
    from aiohttp import web

    from tests.telegram_fake import FakeBotApi

    class TimedBotApi(FakeBotApi):
        """Notes when each video upload had fully arrived."""

        def __post_init__(self) -> None:
            super().__post_init__()
            self.arrivals: list[tuple[str, float]] = []  # (caption, monotonic)

        async def _m_sendVideo(
            self, fields: dict[str, str], files: dict[str, bytes]
        ) -> web.Response:
            answer = await super()._m_sendVideo(fields, files)
            if answer.status == 200:
                self.arrivals.append((fields.get("caption", ""), time.monotonic()))
            return answer

    async def main() -> None:
        async with TimedBotApi(clock=clock) as fake:
            users: dict[int, dict[str, Any]] = {}

            async def handle(command: str, payload: Any) -> Any:
                if command == "push":
                    for chat_id, user_id, text in payload:
                        user = users.setdefault(user_id, fake.user(user_id, f"u{user_id}"))
                        chat = fake.private_chat(user) if chat_id > 0 else fake.group_chat(chat_id)
                        fake.push_message(chat, user, text)
                    return len(payload)
                if command == "delivered":
                    return len(fake.arrivals)
                assert command == "report", command
                methods = [name for name, _ in fake.answered]
                return {
                    "rate_limited": len(fake.flood_hits),
                    "status_posts": methods.count("sendMessage"),
                    "status_edits": methods.count("editMessageText"),
                    "uploads": {n: at for text, at in fake.arrivals if (n := tag_of(text))},
                }

            await serve_commands(conn, fake.url, handle)

    run_child(conn, main)


# --------------------------------------------------------------------------- Discord


def discord(conn: Connection, clock: ScaledClock, channels: int, members: int) -> None:
    """The fake Discord of the tests, its budgets on ``clock``, with one guild of
    ``channels`` text channels and ``members`` members. ``go`` types ``/sora`` for
    ``[(member, channel, prompt)]``; ``report`` tells what arrived."""
    from tests.discord_fake import FakeDiscord

    async def main() -> None:
        scale = clock.scale
        async with FakeDiscord(
            clock=clock,
            time_scale=1.0 / scale,  # discord.py sleeps advertised waits in real time
            ack_deadline=3.0 * scale,  # the 3-second acknowledgement, in real seconds
            token_lifetime=900.0 * scale,  # the 15-minute interaction token, likewise
        ) as fake:
            rooms = [fake.general] + [fake.add_channel(f"c{n}") for n in range(1, channels)]
            people = [fake.add_member(f"m{n}") for n in range(members)]
            greeting = {
                "api_base": fake.api_base,
                "gateway": fake.gateway.url,
                "token": fake.token,
                "guild": fake.guild.id,
            }

            def results() -> list[Any]:
                return [
                    m
                    for m in fake.messages.values()
                    if m.attachments and m.author.id == fake.bot.id and not m.deleted
                ]

            async def handle(command: str, payload: Any) -> Any:
                if command == "go":
                    for member, room, prompt in payload:
                        await fake.send_slash_command(
                            people[member], rooms[room], "sora", {"prompt": prompt}
                        )
                    return len(payload)
                if command == "delivered":
                    return len(results())
                assert command == "report", command
                routes = [r.route for r in fake.requests if r.status < 300]
                slash = [i for i in fake.interactions.values() if i.type == 2]
                return {
                    "unanswered": sum(1 for i in slash if not i.acknowledged),
                    "rate_limited": fake.rate_limited,
                    "status_posts": routes.count("POST /channels/{channel_id}/messages")
                    - len(results()),
                    "status_edits": routes.count(
                        "PATCH /channels/{channel_id}/messages/{message_id}"
                    ),
                    "uploads": {
                        n: clock.to_real(m.created_at)
                        for m in results()
                        if (n := tag_of(m.content))
                    },
                }

            await serve_commands(conn, greeting, handle)

    run_child(conn, main)
