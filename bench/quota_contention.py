"""Benchmark: 1,000 concurrent credit reservations against the real SQLite quota ledger.

Every reservation is one ``INSERT … SELECT … WHERE remaining >= cost`` on the bot's single
aiosqlite connection (``storage.quotas.SqliteQuotaLedger.reserve``, WAL, a file in a
temporary directory). All reservations are started at once with ``asyncio.gather``, the way
a burst of ``/sora`` commands reaches the core, and each one's latency is measured from its
start to its answer (so it includes the wait behind the others on the connection).

Scenarios:

- ``one user``: ``--reservations`` attempts by one user who has ``--credits`` credits;
- ``many users``: the same number of attempts spread evenly over ``--users`` users, each
  with ``--user-credits`` credits;
- ``sequential``: the one-user attempts again, one after another: the uncontended latency
  of one reservation, for comparison (under contention, p50 is about half the attempts
  times this, since the one connection serves them in turn).

The exact number of accepted reservations must equal the credits available (one user:
``--credits``; many users: the sum over users of ``min(attempts, credits)``), the ledger
must hold exactly that many rows and the balance must agree; otherwise the script exits 1.

    python bench/quota_contention.py [--reservations 1000] [--credits 100]
                                     [--users 100] [--user-credits 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.periods import current_window
from bot.records import QuotaKey
from storage.db import Database
from storage.quotas import SqliteQuotaLedger

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    reservations: int
    users: int
    credits_per_user: int
    concurrent: bool = True

    @property
    def expected(self) -> int:
        """Reservations that must be accepted: each user's attempts, capped by credits."""
        per_user, extra = divmod(self.reservations, self.users)
        attempts = [per_user + (1 if u < extra else 0) for u in range(self.users)]
        return sum(min(a, self.credits_per_user) for a in attempts)


@dataclass(frozen=True, slots=True)
class Result:
    scenario: str
    reservations: int
    users: int
    credits_per_user: int
    expected: int
    accepted: int
    ledger_rows: int
    balance_used: int
    wall_s: float
    throughput_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def exact(self) -> bool:
        return self.accepted == self.expected == self.ledger_rows == self.balance_used


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: it is a value that was measured)."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


async def run(scenario: Scenario, workdir: Path) -> Result:
    window = current_window(datetime.now(UTC), "day")
    keys = [QuotaKey("telegram", "group-1", f"user-{u}") for u in range(scenario.users)]
    async with Database.open(workdir / f"{scenario.name.replace(' ', '-')}.db") as db:
        ledger = SqliteQuotaLedger(db)
        # Warm-up on another user: compile the statement, grow the WAL, start the thread.
        warm = QuotaKey("telegram", "group-1", "warm-up")
        for n in range(20):
            await ledger.reserve(warm, f"warm-{n}", 1, window, 100)

        async def reserve(n: int) -> tuple[bool, float]:
            started = time.perf_counter()
            ok = await ledger.reserve(
                keys[n % scenario.users], f"job-{n}", 1, window, scenario.credits_per_user
            )
            return ok, time.perf_counter() - started

        started = time.perf_counter()
        if scenario.concurrent:
            outcomes = await asyncio.gather(*(reserve(n) for n in range(scenario.reservations)))
        else:
            outcomes = [await reserve(n) for n in range(scenario.reservations)]
        wall = time.perf_counter() - started

        row = await db.fetch_one(
            "SELECT COUNT(*) FROM ledger WHERE kind = 'reserve' AND user_id != 'warm-up'"
        )
        used = 0
        for key in keys:
            used += (await ledger.balance(key, window, scenario.credits_per_user)).used
    latencies = [seconds * 1000 for _, seconds in outcomes]
    return Result(
        scenario=scenario.name,
        reservations=scenario.reservations,
        users=scenario.users,
        credits_per_user=scenario.credits_per_user,
        expected=scenario.expected,
        accepted=sum(ok for ok, _ in outcomes),
        ledger_rows=int(row[0]) if row is not None else -1,
        balance_used=used,
        wall_s=wall,
        throughput_per_s=scenario.reservations / wall,
        p50_ms=statistics.median(latencies),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies),
    )


def commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def report(results: list[Result]) -> None:
    print(f"python {platform.python_version()}, sqlite via aiosqlite, {platform.machine()}")
    header = (
        f"{'scenario':<11} {'attempts':>8} {'users':>5} {'expected':>8} {'accepted':>8} "
        f"{'wall s':>7} {'res/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}  exact"
    )
    print(header)
    for r in results:
        print(
            f"{r.scenario:<11} {r.reservations:>8} {r.users:>5} {r.expected:>8} "
            f"{r.accepted:>8} {r.wall_s:>7.3f} {r.throughput_per_s:>7.0f} {r.p50_ms:>7.1f} "
            f"{r.p99_ms:>7.1f} {r.max_ms:>7.1f}  {'PASS' if r.exact else 'FAIL'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reservations", type=int, default=1000, help="concurrent attempts")
    parser.add_argument("--credits", type=int, default=100, help="credits of the one user")
    parser.add_argument("--users", type=int, default=100, help="users in the second scenario")
    parser.add_argument("--user-credits", type=int, default=5, help="credits of each of them")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    scenarios = [
        Scenario("one user", args.reservations, 1, args.credits),
        Scenario("many users", args.reservations, args.users, args.user_credits),
        Scenario("sequential", args.reservations, 1, args.credits, concurrent=False),
    ]
    with tempfile.TemporaryDirectory(prefix="sora-bench-quota-") as tmp:
        results = [asyncio.run(run(s, Path(tmp))) for s in scenarios]
    report(results)
    if args.json:
        document = {
            "benchmark": "quota_contention",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": commit(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "results": [asdict(r) | {"exact": r.exact} for r in results],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r.exact for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
