"""Status freshness: how old is the progress a status message shows, with k jobs in a chat?

    python bench/freshness.py [--k 1 2 5 10 20] [--profile telegram-group] [--json FILE]

One chat, k concurrent jobs, the real core (runner, status board, delivery, SQLite) with a
recording outbox that allows one call per ``--interval`` seconds in the chat (a 429
otherwise, counted), on virtual time (``bench/_virtual.py``): deterministic, and a run of
ten-minute jobs takes seconds. The relay is a paced provider: each job runs
``--job-seconds``, the bot polls it every ``--poll-seconds`` (±10 %, seeded) and each poll
yields the percent done (it changes at every poll).

Every ``--sample-seconds``, for each job between 20 % and 100 % of its run (the posting of
the k status messages is left out), the age of what its message shows is sampled:
now − the time of the poll that produced the percent on screen ("Generating" without a
percent counts as the job's start). Mean and p95 per k, against

- the floor, max(k·I, M, P) / 2: the chat allows one edit per I seconds for all k
  messages, so each one is refreshed at best every k·I seconds (and at most every M, the
  per-message interval); a value is new at most every P; between refreshes the age grows
  from ~0, so its mean is at least half the refresh period;
- round robin, (k·I + P) / 2 when k·I ≥ P: refreshed every k·I, each time with a value
  already U(0, P) old because polls are not aligned with edit slots (below k·I = P a value
  can be shown as soon as it is polled: P / 2).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from _common import machine, print_table, quantile, write_json
from _platforms import BudgetedOutbox
from _services import tag_of
from _virtual import InlineDatabase, VirtualTimeLoop
from pydantic import SecretStr

from bot.config import BotConfig, ProviderConfig, QuotaConfig, Settings, StorageConfig
from bot.core import Core
from bot.media import probe_video
from bot.models import (
    Accepted,
    Capabilities,
    Completed,
    Conversation,
    GenerationRequest,
    Invocation,
    ModelCapabilities,
    Platform,
    ProbeResult,
    Progress,
    ProviderCapabilities,
    ProviderEvent,
    UserRef,
    VideoFile,
)
from bot.providers.synth import synthesize_mp4
from bot.services import Services
from storage.db import Database
from storage.jobs import SqliteJobRepository
from storage.quotas import SqliteQuotaLedger
from storage.users import SqliteUserDirectory

PROFILES = {  # (seconds between calls in the chat, between progress edits of one message)
    "telegram-group": (3.0, 0.0),
    "telegram-private": (1.0, 0.0),
    "discord": (1.25, 2.0),
}
PERCENT = re.compile(r"(\d+)%")
MODEL = "sim-video"


class PacedProvider:
    """A relay whose jobs run ``job_seconds``; polled every ``poll_seconds``, each poll
    answering the percent done. Remembers when each job started and when each percent
    was polled (produced)."""

    name = "paced"
    format = "videos"

    def __init__(self, job_seconds: float, poll_seconds: float, video: Path) -> None:
        self.job_seconds, self.poll_seconds, self._video = job_seconds, poll_seconds, video
        self.capabilities = ProviderCapabilities(
            remix=False,
            image_input="none",
            models={MODEL: ModelCapabilities(MODEL, seconds=(10,), default_seconds=10)},
            resumable=False,
        )
        self.started: dict[int, float] = {}
        self.produced: dict[int, dict[int, float]] = {}  # job -> percent -> poll time

    def validate(self, request: GenerationRequest) -> None:
        return None

    async def generate(
        self, request: GenerationRequest, workdir: Path
    ) -> AsyncIterator[ProviderEvent]:
        n = tag_of(request.prompt)
        assert n is not None
        loop = asyncio.get_running_loop()
        start = self.started[n] = loop.time()
        produced = self.produced[n] = {}
        jitter = random.Random(n)
        yield Accepted(f"paced-{n}")
        while (now := loop.time()) < start + self.job_seconds:
            percent = int(100 * (now - start) / self.job_seconds)
            produced.setdefault(percent, now)
            yield Progress(percent)
            # ±10 %, seeded: real polls drift (network, relay) and never lock into step
            # with the chat's edit slots
            await asyncio.sleep(self.poll_seconds * jitter.uniform(0.9, 1.1))
        video = await asyncio.to_thread(self._download, workdir)
        yield Completed(video, upstream_id=f"paced-{n}")

    def _download(self, workdir: Path) -> VideoFile:
        """The finished video: a copy of the template, probed as a provider would."""
        workdir.mkdir(parents=True, exist_ok=True)
        copy = workdir / "video.mp4"
        shutil.copyfile(self._video, copy)
        return probe_video(copy)

    def resume(
        self, upstream_id: str, request: GenerationRequest, workdir: Path
    ) -> AsyncIterator[ProviderEvent]:
        raise NotImplementedError("freshness jobs are never resumed")

    async def probe(self) -> ProbeResult:
        return ProbeResult(self.name, True, "paced")


class ChatOutbox(BudgetedOutbox):
    """The chat: its budget (``BudgetedOutbox``), a per-message interval, and what each
    job's status message shows now."""

    def __init__(self, clock: Any, interval: float, message_interval: float) -> None:
        super().__init__(clock, interval)
        self.message_interval = message_interval
        self.job_of: dict[str, int] = {}  # message id -> job number

    def capabilities(self, conversation: Conversation) -> Capabilities:
        caps = super().capabilities(conversation)
        return Capabilities(
            caps.upload_limit_bytes,
            caps.text_limit,
            caps.caption_limit,
            caps.edit_interval,
            caps.buttons,
            caps.markup,
            message_interval=self.message_interval,
        )

    def showing(self) -> dict[int, str]:
        """Job number -> the text its status message shows."""
        return {n: self.statuses[m][-1] for m, n in self.job_of.items()}

    async def send_status(self, conversation, text, *, reply_to):  # type: ignore[no-untyped-def,override]
        ref = await super().send_status(conversation, text, reply_to=reply_to)
        n = tag_of(text)
        if n is not None:
            self.job_of[ref.message_id] = n
        return ref


async def one_chat(k: int, args: argparse.Namespace, work: Path, video: Path) -> dict[str, Any]:
    """k jobs in one chat on virtual time; the ages sampled while they run."""
    loop = asyncio.get_running_loop()
    interval, message_interval = PROFILES[args.profile]
    config = ProviderConfig(
        name="paced",
        format="videos",
        base_url="http://paced.invalid/v1",
        api_key=SecretStr("unused"),
        models=[MODEL],
        max_concurrent=k,
        poll_interval=args.poll_seconds,
    )
    db_path = work / f"k{k}.db"
    async with Database.open(db_path):
        pass  # migrated; the run itself uses InlineDatabase
    database = InlineDatabase(db_path)
    provider = PacedProvider(args.job_seconds, args.poll_seconds, video)
    settings = Settings(
        storage=StorageConfig(path=db_path, media_dir=work / f"media{k}"),
        providers=[config],
        quota=QuotaConfig(default_limit=10),
        bot=BotConfig(max_jobs_per_user=1),
    )
    services = Services(
        settings=settings,
        providers={provider.name: provider},
        quotas=SqliteQuotaLedger(database),
        jobs=SqliteJobRepository(database),
        media_dir=work / f"media{k}",
        monotonic=loop.time,
        users=SqliteUserDirectory(database),
    )
    core = Core(services)
    outbox = ChatOutbox(loop.time, interval, message_interval)
    core.s.attach(Platform.CONSOLE.value, outbox)
    chat = Conversation(Platform.CONSOLE, "chat", "chat")
    ages: list[float] = []
    warmup = args.job_seconds / 5  # the k status messages are posted meanwhile

    async def sample() -> None:
        # halfway between grid points, so that no sample coincides with an edit or a poll
        # (those fall on whole seconds): a sample at the very moment of an edit would see
        # the old or the new text depending on the order of two callbacks
        await asyncio.sleep(args.sample_seconds / 2)
        while True:
            await asyncio.sleep(args.sample_seconds)
            now = loop.time()
            for n, text in outbox.showing().items():
                start = provider.started.get(n)
                if start is None or not start + warmup <= now < start + args.job_seconds:
                    continue
                shown = PERCENT.search(text)  # our prompts carry no "%"
                produced = provider.produced[n].get(int(shown.group(1))) if shown else start
                ages.append(now - (produced if produced is not None else start))

    sampler = asyncio.create_task(sample())
    for n in range(k):
        inv = Invocation(
            UserRef(Platform.CONSOLE, f"user-{n}"), chat, f"bench{n} a paper boat", locale="en"
        )
        reply = await core.handle(inv)
        assert reply is not None and reply.kind == "accepted", reply
    await core.wait_idle()
    sampler.cancel()
    await core.shutdown()
    database.close()
    floor = max(k * interval, message_interval, args.poll_seconds) / 2
    round_robin = (
        (k * interval + args.poll_seconds) / 2
        if k * interval >= args.poll_seconds
        else args.poll_seconds / 2
    )
    return {
        "k": k,
        "interval_s": interval,
        "message_interval_s": message_interval,
        "delivered": len(outbox.videos),
        "rate_limited": outbox.rate_limited,
        "samples": len(ages),
        "mean_age_s": sum(ages) / len(ages) if ages else 0.0,
        "p95_age_s": quantile(ages, 0.95),
        "floor_s": floor,
        "round_robin_s": round_robin,
        "edits_per_job": len(outbox.edit_log) / k,
        "virtual_s": loop.time(),
    }


def show(rows: list[dict[str, Any]]) -> None:
    table = [
        {
            "k": r["k"],
            "I s": r["interval_s"],
            "mean age s": r["mean_age_s"],
            "p95 age s": r["p95_age_s"],
            "floor s": r["floor_s"],
            "round robin s": r["round_robin_s"],
            "mean/floor": r["mean_age_s"] / r["floor_s"],
            "edits/job": r["edits_per_job"],
            "429s": r["rate_limited"],
            "delivered": f"{r['delivered']}/{r['k']}",
        }
        for r in rows
    ]
    print_table(list(table[0]), [list(row.values()) for row in table])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 2, 5, 10, 20])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="telegram-group")
    parser.add_argument("--job-seconds", type=float, default=600.0)
    parser.add_argument("--poll-seconds", type=float, default=10.0)
    parser.add_argument("--sample-seconds", type=float, default=0.5)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="sora-fresh-") as tmp:
        work = Path(tmp)
        video = work / "template.mp4"
        synthesize_mp4(video, seconds=1.0, width=72, height=128, seed=1)
        for k in args.k:
            with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
                rows.append(runner.run(one_chat(k, args, work, video)))
    show(rows)
    names = ("profile", "job_seconds", "poll_seconds", "sample_seconds")
    settings = {name: getattr(args, name) for name in names}
    write_json(args.json, {"settings": settings, "rows": rows, "machine": machine()})
    failures = [r for r in rows if r["rate_limited"] or r["delivered"] != r["k"]]
    for r in failures:
        print(f"FAIL k={r['k']}: {r['rate_limited']} 429s, {r['delivered']}/{r['k']} delivered")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
