"""The kill -9 rig: the real ``sora-bot run`` process against a world that survives it.

The fake Bot API (``tests/telegram_fake.py``) and the simulator relay run in the test
process, each behind a ``Gate`` (``tests/fault_gate.py``) that records and can park
requests. The bot runs as ``python -m bot run --config FILE`` on a SQLite file in the test's
directory; killing it with SIGKILL loses everything but that file, exactly like a crash.
After the run, ``audit`` reads what every party saw: the jobs table and the quota ledger
(straight from SQLite), the creates the relay received, the videos and the final text of
every message the bot left in the chats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot.providers.simulator import Simulator
from tests.fault_gate import Gate
from tests.telegram_fake import TOKEN, FakeBotApi

FORMATS = ("videos", "unified", "chat")
CREATE_PATHS = {
    "videos": "/v1/videos",
    "unified": "/v1/video/create",
    "chat": "/v1/chat/completions",
}
FINAL_ICONS = ("✅", "❌")
STATUS_MARK = "🎬"  # every status message starts with it (bot/status.py)


class BotDied(Exception):
    """The bot process exited on its own; the message is the end of its log."""


class BotProcess:
    """One ``sora-bot run`` process; its stderr goes to a log file shown on failure."""

    def __init__(self, config: Path, log: Path) -> None:
        self._config = config
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("ab") as sink:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(self._config),
                "run",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    @property
    def exited(self) -> bool:
        return self._process is not None and self._process.returncode is not None

    async def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye; only what reached SQLite survives."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()

    async def stop(self) -> int | None:
        """SIGTERM, as a supervisor stops it; SIGKILL if it does not exit within 15 s."""
        if self._process is None or self._process.returncode is not None:
            return None
        self._process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(15):
                return await self._process.wait()
        except TimeoutError:
            await self.kill()
            return None

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class JobAudit:
    """One job as every party saw it once the dust settled."""

    id: str
    format: str
    chat_id: int
    state: str
    upstream_id: str | None
    ledger: list[str]  # kinds, oldest first: reserve, commit|refund
    creates: int  # create requests the relay received for this job's chat
    videos: int  # videos Telegram accepted in the chat
    status_text: str  # the job's recorded status message, as the chat shows it now
    stale: list[str]  # bot messages in the chat still showing a non-final status


@dataclass
class FaultWorld:
    sim: Simulator
    fake: FakeBotApi
    relay_gate: Gate
    telegram_gate: Gate
    db: Path
    config: Path
    tmp: Path
    processes: list[BotProcess] = field(default_factory=list)

    @property
    def current(self) -> BotProcess | None:
        return self.processes[-1] if self.processes else None

    def bot(self) -> BotProcess:
        """A new bot process on the world's config and database (started by the caller;
        killed when the world ends, if still running: a failed test leaks no process)."""
        process = BotProcess(self.config, self.tmp / f"bot-{len(self.processes) + 1}.log")
        self.processes.append(process)
        return process

    def drop_holds(self) -> None:
        self.relay_gate.drop_all()
        self.telegram_gate.drop_all()

    def ask(self, chat_id: int, text: str) -> None:
        """The user ``chat_id`` sends ``text`` in their private chat with the bot."""
        user = self.fake.user(chat_id, f"u{chat_id}")
        self.fake.push_message(self.fake.private_chat(user), user, text)

    async def wait_until(self, condition: Callable[[], bool], *, within: float = 30.0) -> None:
        """Re-check ``condition`` after every request the bot makes, up to ``within`` s;
        ``BotDied`` if the current bot process exits meanwhile."""
        async with asyncio.timeout(within):
            while not condition():
                bot = self.current
                if bot is not None and bot.exited:
                    raise BotDied(bot.log_tail())
                with contextlib.suppress(TimeoutError):  # a dead bot makes no requests
                    async with asyncio.timeout(1.0):
                        await self.telegram_gate.next_activity()

    def jobs(self) -> list[sqlite3.Row]:
        if not self.db.exists():
            return []
        with contextlib.closing(sqlite3.connect(self.db, timeout=5)) as conn:
            conn.row_factory = sqlite3.Row
            return conn.execute("SELECT * FROM jobs ORDER BY created_at").fetchall()

    def ledger(self, job_id: str) -> list[str]:
        with contextlib.closing(sqlite3.connect(self.db, timeout=5)) as conn:
            rows = conn.execute("SELECT kind FROM ledger WHERE job_id = ? ORDER BY id", (job_id,))
            return [kind for (kind,) in rows]

    def settled(self, count: int) -> bool:
        """``count`` jobs, each final with its credit settled and its status showing it."""
        jobs = self.jobs()
        if len(jobs) < count:
            return False
        for job in jobs:
            if job["state"] not in ("delivered", "failed") or len(self.ledger(job["id"])) < 2:
                return False
            if not is_final(self.text_of(int(job["channel"]), job["status_message_id"])):
                return False
        return True

    def text_of(self, chat_id: int, message_id: str | None) -> str:
        if message_id is None:
            return ""
        return str(self.fake.message(chat_id, int(message_id)).get("text", ""))

    def audit(self) -> list[JobAudit]:
        """Every job, with what the relay, Telegram and the ledger say about it."""
        audits = []
        for job in self.jobs():
            chat_id = int(job["channel"])
            posted = self._bot_messages(chat_id)
            audits.append(
                JobAudit(
                    id=job["id"],
                    format=job["format"],
                    chat_id=chat_id,
                    state=job["state"],
                    upstream_id=job["upstream_id"],
                    ledger=self.ledger(job["id"]),
                    creates=self._creates(job["format"], job["prompt"]),
                    videos=sum(
                        v.chat_id == chat_id and v.message_id is not None for v in self.fake.videos
                    ),
                    status_text=self.text_of(chat_id, job["status_message_id"]),
                    stale=[
                        text
                        for text in (self.text_of(chat_id, str(m)) for m in posted)
                        if text.startswith(STATUS_MARK) and not is_final(text)
                    ],
                )
            )
        return audits

    def _creates(self, fmt: str, prompt: str) -> int:
        """Create requests the relay itself received for the job with ``prompt``."""
        return sum(
            r.method == "POST"
            and r.path == CREATE_PATHS[fmt]
            and prompt in json.dumps(r.json, ensure_ascii=False)
            for r in self.sim.requests
        )

    def _bot_messages(self, chat_id: int) -> list[int]:
        """Ids of the text messages Telegram created for the bot in ``chat_id``, including
        those whose answer the bot never received."""
        ids = []
        for ex in self.telegram_gate.exchanges:
            if ex.api_method == "sendMessage" and ex.fields.get("chat_id") == str(chat_id):
                result = ex.result.get("result") if isinstance(ex.result, dict) else None
                if isinstance(result, dict):
                    ids.append(int(result["message_id"]))
        return ids


def is_final(status_text: str) -> bool:
    """The phase line (third line) of a status text shows done or failed."""
    lines = status_text.splitlines()
    return len(lines) >= 3 and lines[2].startswith(FINAL_ICONS)


@asynccontextmanager
async def fault_world(tmp_path: Path, *, job_seconds: float = 1.0) -> AsyncIterator[FaultWorld]:
    """Simulator and fake Bot API behind gates, and a config file for the bot process."""
    async with (
        Simulator(
            tmp_path / "sim",
            job_seconds=job_seconds,
            poll_after_ms=50,
            video_scale=0.25,
            video_seconds_cap=1.0,
            retry_after=0,
        ) as sim,
        FakeBotApi() as fake,  # real time: the bot process keeps real time too
        Gate(sim.origin) as relay_gate,
        Gate(fake.url) as telegram_gate,
    ):
        db = tmp_path / "bot.db"
        config = tmp_path / "sora-bot.toml"
        config.write_text(_config_toml(db, tmp_path / "media", relay_gate, telegram_gate))
        w = FaultWorld(sim, fake, relay_gate, telegram_gate, db, config, tmp_path)
        try:
            yield w
        finally:
            for process in w.processes:
                await process.kill()


def _config_toml(db: Path, media: Path, relay: Gate, telegram: Gate) -> str:
    providers = "".join(
        f"""
[[providers]]
name = "{fmt}"
format = "{fmt}"
base_url = "{relay.url}/v1"
api_key = "sim-key"
models = ["sim-video"]
max_concurrent = 4
poll_interval = 0.05
request_timeout = 10.0
"""
        for fmt in FORMATS
    )
    return f"""
[storage]
path = "{db}"
media_dir = "{media}"

[telegram]
token = "{TOKEN}"
api_url = "{telegram.url}"

[quota]
default_limit = 5

[bot]
max_jobs_per_user = 3
{providers}"""
