"""Load: N concurrent jobs through the real core and a platform, against the simulator.

    python bench/load.py --jobs 1000 --platform core|telegram|discord [--json FILE]

``--jobs`` ``/sora`` requests arrive at once from ``--users`` users in ``--chats`` chats;
the relay (the simulator, in a child process: it stands in for a remote machine) runs
every job at the same time for ``--job-seconds`` real seconds, hinting a poll every
``--poll-seconds`` and answering after ``--relay-latency`` seconds (a remote relay); each
finished video (72×128, 1 s) is downloaded, probed, thumbnailed and uploaded.
``--platform`` picks the other side: ``core`` (a recording outbox allowing one call per
second per chat), ``telegram`` (the real adapter against the fake Bot API) or ``discord``
(the real adapter against the fake Discord), both in a child process.

The platforms' budgets (seconds between edits in a chat, and everything else the fakes
time) run on a clock shared by the bot's status boards and the fake, ``--time-scale``
times faster than real time (default 1: the real budgets); the relay's jobs always run
in real time. By default each chat holds 10 jobs and each user asks for 2.

Figures, all of this process (the bot): peak RSS, CPU seconds per job, event-loop lag
(p50/p99/max, sampled every 10 ms), status posts and edits per job, the platform's 429s,
the time from a job's upstream completion (the relay has the video and says so) to its
video on the platform, and from the bot's download request to it (p50/p99, measured
outside the bot: the relay's records against the platform's, on the system-wide monotonic
clock), and jobs delivered.
Exits 1 unless every job was delivered and the platform answered no 429.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    GcPauses,
    LoopLag,
    PeakRss,
    ScaledClock,
    Service,
    cpu_seconds,
    machine,
    print_table,
    quantile,
    write_json,
)
from _platforms import CoreDriver, DiscordDriver, Driver, JobSpec, TelegramDriver
from _services import simulator
from pydantic import SecretStr

from bot.cli.runtime import open_core
from bot.config import BotConfig, ProviderConfig, QuotaConfig, Settings, StorageConfig
from bot.models import WireFormat

SIM_KEY = "sim-key"


def build_settings(args: argparse.Namespace, base_url: str, work: Path, extra: dict[str, Any]):  # type: ignore[no-untyped-def]
    per_user = math.ceil(args.jobs / args.users)
    provider = ProviderConfig(
        name="sim",
        format=WireFormat.VIDEOS,
        base_url=base_url,
        api_key=SecretStr(SIM_KEY),
        models=["sim-video"],
        max_concurrent=min(args.jobs, 1000),
        poll_interval=args.poll_seconds,
    )
    return Settings(
        storage=StorageConfig(path=work / "bench.db", media_dir=work / "media"),
        providers=[provider],
        quota=QuotaConfig(default_limit=max(10, 2 * per_user)),
        bot=BotConfig(max_jobs_per_user=per_user),
        **extra,
    )


def plan(args: argparse.Namespace) -> list[JobSpec]:
    """Job n from user n mod users, in chat n mod chats (a user may be in several chats)."""
    return [JobSpec(n, n % args.users, n % max(1, args.chats)) for n in range(args.jobs)]


async def wait_delivered(driver: Driver, jobs: int, core: Any, give_up: float) -> int:
    """Until every video arrived, or nothing arrived for 15 s and no job is left running,
    or ``give_up`` seconds passed. The job rows are read only then and every 10 s for a
    progress line (reading 1,000 rows is not free: it would weigh on the figures)."""
    start = time.monotonic()
    deadline, told = start + give_up, start
    last, moved = -1, start
    while True:
        done = await driver.delivered()
        if done >= jobs:
            return done
        now = time.monotonic()
        if done != last:
            last, moved = done, now
        if now - told >= 10:
            told = now
            running = len(await core.s.jobs.unfinished())
            print(f"  {now - start:5.0f} s: {done} delivered, {running} running", file=sys.stderr)
        if now > deadline or (now - moved > 15 and not await core.s.jobs.unfinished()):
            return done
        await asyncio.sleep(0.25)


async def run(
    args: argparse.Namespace, driver: Driver, settings: Settings, clock: ScaledClock, sim: Service
) -> dict[str, Any]:
    jobs = plan(args)
    async with open_core(settings) as core:
        core.s.monotonic = clock
        core.s.sleep = clock.sleep
        await driver.start(core)
        try:
            with PeakRss() as rss, GcPauses() as gc_pauses:
                async with LoopLag() as lag:
                    cpu0, wall0 = cpu_seconds(), time.monotonic()
                    submitted = await driver.submit(jobs)
                    delivered = await wait_delivered(driver, len(jobs), core, args.timeout)
                    idle = await settle(core)
                    cpu, wall = cpu_seconds() - cpu0, time.monotonic() - wall0
            report = await driver.report()
        finally:
            await driver.stop()
    times = await sim.call("times")
    count = len(jobs)
    outcomes = job_outcomes(settings.storage.path)
    return {
        "platform": driver.name,
        "jobs": count,
        "submitted": submitted,
        "delivered": delivered,
        "all_jobs_ended": idle,
        "wall_s": wall,
        "peak_rss_mb": rss.peak / 1e6,
        "cpu_s": cpu,
        "cpu_s_per_job": cpu / count,
        "loop_lag_ms": lag.summary_ms(),
        "gc_pauses_ms": gc_pauses.summary_ms(),
        "status_posts_per_job": report.status_posts / count,
        "status_edits_per_job": report.status_edits / count,
        "rate_limited": report.rate_limited,
        "unanswered_commands": report.unanswered,
        "job_outcomes": outcomes,
        # to the video on the platform: from the relay having it ready (and answering
        # "completed"), from the job's nominal end (poll wait included), and from the bot
        # asking for it (the bot's own delivery path, the chat's turn included)
        "completion_to_upload_s": latencies(report.uploads, times, "ready"),
        "nominal_end_to_upload_s": latencies(report.uploads, times, "nominal"),
        "download_to_upload_s": latencies(report.uploads, times, "fetched"),
    }


def job_outcomes(database: Path) -> dict[str, int]:
    """How the jobs ended, from the bot's database: ``delivered``, or ``failed: <category>:
    <message>`` for each distinct failure."""
    query = "SELECT state, error_category, error_message, count(*) FROM jobs GROUP BY 1, 2, 3"
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute(query).fetchall()
    return {
        f"{state}: {category}: {message}" if category else state: n
        for state, category, message, n in rows
    }


async def settle(core: Any) -> bool:
    """Wait (a minute at most) for the last jobs' final edits; False if some never ended."""
    try:
        async with asyncio.timeout(60):
            await core.wait_idle()
    except TimeoutError:
        return False
    return True


def latencies(
    uploads: dict[int, float], times: dict[int, dict[str, float | None]], since: str
) -> dict[str, float]:
    """p50/p99 of (video on the platform − the relay's ``since`` time) over the jobs."""
    gaps = [
        at - start
        for n, at in uploads.items()
        if n in times and (start := times[n][since]) is not None
    ]
    return {"p50": quantile(gaps, 0.5), "p99": quantile(gaps, 0.99), "count": len(gaps)}


def make_driver(args: argparse.Namespace, clock: ScaledClock) -> Driver:
    if args.platform == "telegram":
        return TelegramDriver(clock, args.chats)
    if args.platform == "discord":
        return DiscordDriver(clock, args.chats, args.users)
    return CoreDriver(clock)


def show(result: dict[str, Any]) -> None:
    lag, done = result["loop_lag_ms"], result["completion_to_upload_s"]
    fetch = result["download_to_upload_s"]
    columns = {
        "platform": result["platform"],
        "jobs": result["jobs"],
        "delivered": result["delivered"],
        "wall s": result["wall_s"],
        "peak RSS MB": result["peak_rss_mb"],
        "CPU s/job": f"{result['cpu_s_per_job']:.4f}",
        "lag p50/p99/max ms": f"{lag['p50']:.1f} / {lag['p99']:.1f} / {lag['max']:.0f}",
        "posts/job": result["status_posts_per_job"],
        "edits/job": result["status_edits_per_job"],
        "429s": result["rate_limited"],
        "completion→upload p50/p99 s": f"{done['p50']:.2f} / {done['p99']:.2f}",
        "download→upload p50/p99 s": f"{fetch['p50']:.2f} / {fetch['p99']:.2f}",
    }
    print_table(list(columns), [list(columns.values())])


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--platform", choices=("core", "telegram", "discord"), default="core")
    parser.add_argument("--users", type=int, help="default: jobs / 2")
    parser.add_argument("--chats", type=int, help="default: jobs / 10 (telegram: 0 = private)")
    parser.add_argument("--job-seconds", type=float, default=30.0, help="relay job length")
    parser.add_argument("--poll-seconds", type=float, default=5.0, help="relay's poll hint")
    parser.add_argument("--relay-latency", type=float, default=0.0, help="s per answer")
    parser.add_argument("--time-scale", type=float, default=1.0, help="platform clock speed")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after (s)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    args.users = args.users or max(1, args.jobs // 2)
    args.chats = args.chats if args.chats is not None else max(1, args.jobs // 10)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    clock = ScaledClock(time.monotonic(), args.time_scale)
    with tempfile.TemporaryDirectory(prefix="sora-bench-") as tmp:
        work = Path(tmp)
        poll_ms = int(args.poll_seconds * 1000)
        sim = Service(simulator, str(work / "sim"), args.job_seconds, poll_ms, args.relay_latency)
        driver = make_driver(args, clock)
        try:
            base_url = sim.start()
            settings = build_settings(args, base_url, work, driver.launch())
            result = asyncio.run(run(args, driver, settings, clock, sim))
        finally:
            sim.stop()
    result["settings"] = {
        k: getattr(args, k) for k in ("users", "chats", "job_seconds", "poll_seconds", "time_scale")
    }
    result["machine"] = machine()
    show(result)
    write_json(args.json, result)
    failures = []
    if result["delivered"] != result["jobs"]:
        failures.append(
            f"{result['jobs'] - result['delivered']} jobs not delivered (jobs: "
            f"{result['job_outcomes']}, commands never acknowledged: "
            f"{result['unanswered_commands']})"
        )
    if not result["all_jobs_ended"]:
        failures.append("some jobs never ended")
    if result["rate_limited"]:
        failures.append(f"{result['rate_limited']} platform 429s")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
