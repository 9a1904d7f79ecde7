"""The quota ledger: computed balances, atomic reservations, settlement, moderator actions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.periods import Window, current_window
from bot.records import QuotaKey
from storage.db import Database
from storage.quotas import SqliteQuotaLedger

ALICE = QuotaKey("telegram", "-100123", "42")
DEFAULT = 5


class FakeClock:
    """A settable clock: the ledger stamps rows with it, tests move it by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 5, 14, 12, tzinfo=UTC))


@pytest.fixture
async def ledger(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SqliteQuotaLedger]:
    async with Database.open(tmp_path / "bot.db") as database:
        yield SqliteQuotaLedger(database, clock=clock)


def today(clock: FakeClock) -> Window:
    return current_window(clock(), "day")


async def test_fresh_user_has_the_default_limit(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    balance = await ledger.balance(ALICE, today(clock), DEFAULT)
    assert (balance.limit, balance.used, balance.granted, balance.remaining) == (5, 0, 0, 5)
    assert not balance.custom_limit
    assert not balance.unlimited
    assert balance.window == today(clock)


async def test_reserve_spends_and_refuses_when_empty(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    assert await ledger.reserve(ALICE, "job1", 3, window, DEFAULT)
    assert not await ledger.reserve(ALICE, "job2", 3, window, DEFAULT)  # 2 left
    assert await ledger.reserve(ALICE, "job3", 2, window, DEFAULT)
    balance = await ledger.balance(ALICE, window, DEFAULT)
    assert (balance.used, balance.remaining) == (5, 0)
    assert await ledger.charged("job1")
    assert not await ledger.charged("job2")


async def test_a_job_reserves_only_once(ledger: SqliteQuotaLedger, clock: FakeClock) -> None:
    window = today(clock)
    assert await ledger.reserve(ALICE, "job1", 1, window, DEFAULT)
    assert not await ledger.reserve(ALICE, "job1", 1, window, DEFAULT)
    assert (await ledger.balance(ALICE, window, DEFAULT)).used == 1


async def test_a_hundred_concurrent_reservations_take_exactly_the_credits_left(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    assert await ledger.reserve(ALICE, "earlier", 2, window, DEFAULT)  # 3 credits left
    results = await asyncio.gather(
        *(ledger.reserve(ALICE, f"job{n}", 1, window, DEFAULT) for n in range(100))
    )
    assert results.count(True) == 3
    balance = await ledger.balance(ALICE, window, DEFAULT)
    assert (balance.used, balance.remaining) == (5, 0)


async def test_users_and_scopes_have_separate_balances(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    assert await ledger.reserve(ALICE, "job1", 5, window, DEFAULT)
    same_user_elsewhere = QuotaKey("telegram", "direct", "42")
    other_platform = QuotaKey("discord", "-100123", "42")
    for key in (same_user_elsewhere, other_platform):
        assert (await ledger.balance(key, window, DEFAULT)).remaining == 5


async def test_next_window_is_fresh_and_a_late_refund_credits_the_old_window(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    monday = today(clock)
    assert await ledger.reserve(ALICE, "late", 2, monday, DEFAULT)
    assert await ledger.reserve(ALICE, "done", 1, monday, DEFAULT)
    clock.now += timedelta(days=1)
    tuesday = today(clock)
    assert tuesday.start == monday.end
    assert (await ledger.balance(ALICE, tuesday, DEFAULT)).used == 0
    assert await ledger.reserve(ALICE, "new", 1, tuesday, DEFAULT)

    assert await ledger.refund("late", "upstream failed")  # after the boundary
    assert (await ledger.balance(ALICE, monday, DEFAULT)).used == 1
    assert (await ledger.balance(ALICE, tuesday, DEFAULT)).used == 1
    [refund, *_] = await ledger.history(ALICE)
    assert (refund.kind, refund.job_id, refund.amount) == ("refund", "late", 2)
    assert refund.note == "upstream failed"
    assert refund.at == clock.now


async def test_commit_and_refund_settle_once_and_never_both(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    assert await ledger.reserve(ALICE, "kept", 1, window, DEFAULT)
    assert await ledger.reserve(ALICE, "given_back", 1, window, DEFAULT)

    assert await ledger.commit("kept")
    assert not await ledger.commit("kept")
    assert not await ledger.refund("kept")
    assert await ledger.charged("kept")

    assert await ledger.refund("given_back")
    assert not await ledger.refund("given_back")
    assert not await ledger.commit("given_back")
    assert not await ledger.charged("given_back")

    assert not await ledger.commit("unknown")
    assert not await ledger.refund("unknown")
    assert (await ledger.balance(ALICE, window, DEFAULT)).used == 1


async def test_concurrent_commit_and_refund_write_one_settlement(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    assert await ledger.reserve(ALICE, "job1", 1, today(clock), DEFAULT)
    outcomes = await asyncio.gather(
        *(ledger.commit("job1") for _ in range(10)), *(ledger.refund("job1") for _ in range(10))
    )
    assert outcomes.count(True) == 1
    kinds = [entry.kind for entry in await ledger.history(ALICE)]
    assert kinds.count("commit") + kinds.count("refund") == 1


async def test_custom_limit_beats_scope_default_beats_config(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    assert await ledger.scope_default("telegram", "-100123") is None
    await ledger.set_scope_default("telegram", "-100123", 8, actor="mod")
    assert await ledger.scope_default("telegram", "-100123") == 8
    balance = await ledger.balance(ALICE, window, DEFAULT)
    assert (balance.limit, balance.custom_limit) == (8, False)
    other_scope = QuotaKey("telegram", "-100999", "42")
    assert (await ledger.balance(other_scope, window, DEFAULT)).limit == DEFAULT

    await ledger.set_limit(ALICE, 2, actor="mod")
    await ledger.set_scope_default("telegram", "-100123", 20, actor="mod")
    balance = await ledger.balance(ALICE, window, DEFAULT)
    assert (balance.limit, balance.custom_limit) == (2, True)
    await ledger.set_limit(ALICE, 0, actor="mod")
    assert (await ledger.balance(ALICE, window, DEFAULT)).remaining == 0
    assert not await ledger.reserve(ALICE, "job1", 1, window, DEFAULT)


async def test_grant_adds_to_this_window_only(ledger: SqliteQuotaLedger, clock: FakeClock) -> None:
    window = today(clock)
    await ledger.set_limit(ALICE, 1, actor="mod")
    await ledger.grant(ALICE, 2, window, actor="mod", note="contest")
    assert await ledger.reserve(ALICE, "job1", 3, window, DEFAULT)
    balance = await ledger.balance(ALICE, window, DEFAULT)
    assert (balance.limit, balance.granted, balance.used, balance.remaining) == (1, 2, 3, 0)
    clock.now += timedelta(days=1)
    tomorrow = await ledger.balance(ALICE, today(clock), DEFAULT)
    assert (tomorrow.granted, tomorrow.remaining) == (0, 1)


async def test_reset_zeroes_usage_and_grants_but_keeps_the_custom_limit(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    await ledger.set_limit(ALICE, 3, actor="mod")
    await ledger.grant(ALICE, 1, window, actor="mod")
    assert await ledger.reserve(ALICE, "before", 4, window, DEFAULT)
    await ledger.reset(ALICE, window, actor="mod")
    balance = await ledger.balance(ALICE, window, DEFAULT)
    assert (balance.limit, balance.custom_limit) == (3, True)
    assert (balance.used, balance.granted, balance.remaining) == (0, 0, 3)
    # a refund of a reservation made before the reset gives nothing extra
    assert await ledger.refund("before")
    assert (await ledger.balance(ALICE, window, DEFAULT)).remaining == 3
    assert await ledger.reserve(ALICE, "after", 1, window, DEFAULT)
    assert (await ledger.balance(ALICE, window, DEFAULT)).used == 1


async def test_unlimited_is_never_refused_but_still_recorded(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    results = [
        await ledger.reserve(ALICE, f"job{n}", 2, window, DEFAULT, unlimited=True) for n in range(4)
    ]
    assert all(results)
    balance = await ledger.balance(ALICE, window, DEFAULT, unlimited=True)
    assert balance.unlimited
    assert (balance.used, balance.remaining) == (8, 0)
    assert await ledger.charged("job3")
    assert await ledger.refund("job3")
    assert (await ledger.balance(ALICE, window, DEFAULT)).used == 6


async def test_history_lists_the_users_rows_newest_first(
    ledger: SqliteQuotaLedger, clock: FakeClock
) -> None:
    window = today(clock)
    await ledger.set_scope_default("telegram", "-100123", 9, actor="mod")  # scope row: not listed
    await ledger.grant(ALICE, 2, window, actor="mod")
    clock.now += timedelta(minutes=1)
    assert await ledger.reserve(ALICE, "job1", 1, window, DEFAULT)
    assert await ledger.commit("job1")
    await ledger.set_limit(ALICE, 4, actor="admin")
    entries = await ledger.history(ALICE)
    assert [entry.kind for entry in entries] == ["set", "commit", "reserve", "grant"]
    assert entries[0].actor == "admin" and entries[0].amount == 4
    assert entries[1].job_id == "job1" and entries[1].amount == 1
    assert entries[3].at == datetime(2025, 5, 14, 12, tzinfo=UTC)
    assert [entry.kind for entry in await ledger.history(ALICE, limit=2)] == ["set", "commit"]


async def test_bad_amounts_are_refused(ledger: SqliteQuotaLedger, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        await ledger.reserve(ALICE, "job1", -1, today(clock), DEFAULT)
    with pytest.raises(ValueError):
        await ledger.set_limit(ALICE, -3, actor="mod")
    assert await ledger.history(ALICE) == []
