"""``sora-bot demo``: a short scripted session, offline, against the built-in simulator.

It uses the real core, a real SQLite file and real MP4s: a generation with live progress,
a remix by reply, a quota refusal, a moderator top-up and a chat-format continuation.
``--interactive`` drops into the console REPL instead, with the same setup.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.console import ConsoleOutbox, ConsoleSession
from bot.cli.runtime import open_core
from bot.config import BotConfig, QuotaConfig, Settings, StorageConfig
from bot.models import Platform
from bot.providers.simulator import Simulator

MODERATOR = "mod"
# (who, line); "{video}" is the number of the latest video message, for replies.
SCRIPT: tuple[tuple[str, str], ...] = (
    ("alice", "/help"),
    ("alice", "/sora --seconds 4 a paper boat sailing down a rainy street, cinematic"),
    ("alice", ">{video} make it night, with neon reflections in the puddles"),
    ("alice", "/sora --provider sim-chat a lighthouse in a storm, watercolour"),
    (MODERATOR, "/quota add alice 2"),
    ("alice", "/quota"),
    ("alice", "/sora --provider sim-chat a lighthouse in a storm, watercolour"),
    ("alice", ">{video} now at sunrise, calm sea"),
    ("alice", "/quota"),
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run a scripted session offline against the built-in simulator",
        description="Run the bot offline: no token, no key. Saves the MP4s it makes.",
    )
    p.add_argument(
        "--out", type=Path, default=Path("sora-demo"), metavar="DIR", help="output folder"
    )
    p.add_argument("--interactive", action="store_true", help="type commands yourself")
    p.add_argument(
        "--speed", type=float, default=3.0, metavar="SECONDS", help="simulated job length"
    )
    p.set_defaults(run=run)


def _fresh_database(out: Path) -> Path:
    """The demo starts from an empty database each time, so its script always plays out."""
    out.mkdir(parents=True, exist_ok=True)
    database = out / "demo.db"
    for stale in (database, out / "demo.db-wal", out / "demo.db-shm"):
        stale.unlink(missing_ok=True)
    return database


async def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    database = _fresh_database(out)
    async with Simulator(
        out / "simulator",
        job_seconds=args.speed,
        poll_after_ms=250,
        video_scale=0.5,
        video_seconds_cap=4.0,
    ) as sim:
        settings = Settings(
            storage=StorageConfig(path=database, media_dir=out / "work"),
            providers=[
                sim.provider_config("videos", name="sim-videos"),
                sim.provider_config("chat", name="sim-chat"),
                sim.provider_config("unified", name="sim-unified"),
            ],
            quota=QuotaConfig(default_limit=2),
            bot=BotConfig(moderators=[f"{Platform.CONSOLE.value}:{MODERATOR}"]),
        )
        async with open_core(settings) as core:
            outbox = ConsoleOutbox(sys.stdout, out)
            core.s.attach(Platform.CONSOLE.value, outbox)
            await core.recover(Platform.CONSOLE.value)
            session = ConsoleSession(core.handle, sys.stdout, user="alice")
            if args.interactive:
                await session.repl()
                await core.wait_idle()
            else:
                await _play(session, outbox, core)
    _summary(outbox, database)
    return 0 if outbox.saved or args.interactive else 1


async def _play(session: ConsoleSession, outbox: ConsoleOutbox, core) -> None:  # type: ignore[no-untyped-def]
    for who, line in SCRIPT:
        line = line.format(video=outbox.last_video or "?")
        session.user = who
        print(f"\n{who}> {line}", flush=True)
        await session.submit(line)
        await core.wait_idle()


def _summary(outbox: ConsoleOutbox, database: Path) -> None:
    print("\nDemo finished.")
    for path in outbox.saved:
        print(f"  video: {path.resolve()}")
    print(f"  database: {database.resolve()}")
