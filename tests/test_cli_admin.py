"""The operator commands against a real database: ``quota``, ``jobs``, ``db backup``.

They run through ``bot.cli.main`` as an operator would (one test through the installed
script in a subprocess), so the exit codes and the output are what a shell sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.periods import current_window
from bot.records import JobState, QuotaKey
from storage.backup import BackupError, backup_database
from storage.db import Database
from storage.jobs import SqliteJobRepository
from storage.quotas import SqliteQuotaLedger
from storage.users import SqliteUserDirectory
from tests.admin_seed import SCOPE, Seeded, seed, write_config


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.db"


@pytest.fixture
def seeded(db_path: Path) -> Seeded:
    return asyncio.run(seed(db_path))


@pytest.fixture
def cli(tmp_path: Path, db_path: Path, capsys: pytest.CaptureFixture[str]):
    """Run ``sora-bot --config … ARGS``; returns (exit code, stdout, stderr)."""
    config = write_config(tmp_path, db_path, '\n[bot]\nmoderators = ["telegram:9"]\n')

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def fields(output: str) -> dict[str, str]:
    """``name  value`` lines as a dict."""
    return dict(line.split(None, 1) for line in output.strip().splitlines())


def ledger_rows(db_path: Path, job_id: str) -> list[tuple[str, str | None]]:
    with closing(sqlite3.connect(db_path)) as connection:
        rows = connection.execute(
            "SELECT kind, note FROM ledger WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return list(rows)


# --------------------------------------------------------------------------- quota


def test_quota_actions_change_the_ledger_as_the_operator(seeded: Seeded, cli) -> None:
    code, out, _ = cli("quota", "show", "telegram:42")
    assert code == 0
    shown = fields(out)
    assert shown["scope"] == SCOPE
    assert (shown["limit"], shown["used"], shown["remaining"]) == ("5 (default)", "1", "4")

    assert fields(cli("quota", "set", "telegram:42", "8")[1])["limit"] == "8 (custom)"
    code, out, _ = cli("quota", "add", "telegram:42", "3", "--note", "contest winner")
    assert code == 0 and (fields(out)["extra"], fields(out)["remaining"]) == ("3", "10")
    assert fields(cli("quota", "add", "telegram:42", "-1")[1])["extra"] == "2"
    code, out, _ = cli("quota", "reset", "telegram:42")
    assert (fields(out)["used"], fields(out)["extra"], fields(out)["remaining"]) == ("0", "0", "8")

    code, out, _ = cli("quota", "history", "telegram:42", "--json")
    entries = json.loads(out)
    kinds = [e["kind"] for e in entries]  # newest first, after the seeded jobs' rows
    assert kinds == ["reset", "grant", "grant", "set", "refund", "reserve", "reserve"]
    assert {e["actor"] for e in entries[:4]} == {"operator (cli)"}
    assert entries[2]["note"] == "contest winner"
    code, out, _ = cli("quota", "history", "telegram:42", "--limit", "2")
    assert out.splitlines()[0].split() == ["ID", "AT", "KIND", "AMOUNT", "JOB", "ACTOR", "NOTE"]
    assert len(out.splitlines()) == 3 and "operator (cli)" in out

    balance = json.loads(cli("quota", "show", "telegram:9", "--json")[1])
    assert balance["configured_moderator"] is True and balance["remaining"] == 4


def test_quota_names_unknown_users_and_ambiguous_scopes(seeded: Seeded, cli, db_path) -> None:
    code, _, err = cli("quota", "show", "telegram:999")
    assert code == 1 and "unknown user telegram:999" in err
    code, _, err = cli("quota", "set", "telegram:999", "3")
    assert code == 1 and "--scope" in err  # the way to prepare a new user's credits
    code, out, _ = cli("quota", "set", "telegram:999", "3", "--scope", SCOPE)
    assert code == 0 and fields(out)["limit"] == "3 (custom)"
    code, _, err = cli("quota", "reset", "telegram:42", "--scope", "direct")
    assert code == 1 and f"seen in: {SCOPE}" in err

    async def second_scope() -> None:
        async with Database.open(db_path) as database:
            ledger = SqliteQuotaLedger(database)
            await ledger.set_limit(QuotaKey("telegram", "direct", "42"), 2, "telegram:1")
            await SqliteUserDirectory(database).remember("telegram", "Bob_X", "7", "Bob")

    asyncio.run(second_scope())
    assert fields(cli("quota", "show", "telegram:@bob_x")[1])["user"] == "telegram:7"
    mine = json.loads(cli("jobs", "list", "--user", "telegram:@Bob_X", "--json")[1])
    assert [job["id"] for job in mine] == [seeded.delivered.id]
    code, _, err = cli("quota", "show", "telegram:@nobody")
    assert code == 1 and "has not seen that username" in err
    code, _, err = cli("quota", "show", "telegram:42")
    assert code == 2 and "several scopes" in err and "direct" in err
    assert fields(cli("quota", "show", "telegram:42", "--scope", "direct")[1])["limit"] == (
        "2 (custom)"
    )
    with pytest.raises(SystemExit) as exited:
        cli("quota", "show", "alice")  # not platform:user_id
    assert exited.value.code == 2


def test_a_missing_database_is_reported_not_created(tmp_path: Path, cli, db_path) -> None:
    code, _, err = cli("jobs", "list")
    assert code == 2 and "no database at" in err
    assert not db_path.exists()


# --------------------------------------------------------------------------- jobs


def test_jobs_list_filters_and_show(seeded: Seeded, cli) -> None:
    code, out, _ = cli("jobs", "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["ID", "STATE", "USER"]
    listed = [line.split()[0] for line in lines[1:]]
    newest_first = [seeded.queued, seeded.failed, seeded.delivered, seeded.uploading]
    assert listed == [job.id for job in newest_first]
    assert "failed (timeout)" in out

    active = json.loads(cli("jobs", "list", "--state", "active", "--json")[1])
    assert {job["id"] for job in active} == {seeded.queued.id, seeded.uploading.id}
    mine = json.loads(cli("jobs", "list", "--user", "telegram:7", "--json")[1])
    assert [job["id"] for job in mine] == [seeded.delivered.id]
    assert len(json.loads(cli("jobs", "list", "--limit", "1", "--json")[1])) == 1
    assert cli("jobs", "list", "--state", "cancelled")[1].strip() == "no jobs"

    code, out, _ = cli("jobs", "show", seeded.failed.id)
    shown = fields(out.split("\n\n")[0])
    assert code == 0 and shown["state"] == "failed (timeout)"
    assert shown["prompt"] == seeded.failed.prompt and shown["user"] == "telegram:42 Alice"
    assert "reserve" in out and "refund" in out  # its ledger rows
    detail = json.loads(cli("jobs", "show", seeded.delivered.id, "--json")[1])
    assert [row["kind"] for row in detail["ledger"]] == ["reserve", "commit"]

    code, _, err = cli("jobs", "show", "nosuchjob0")
    assert code == 1 and "no job 'nosuchjob0'" in err


def test_cancel_refunds_exactly_once(seeded: Seeded, cli, db_path: Path) -> None:
    job = seeded.queued
    code, out, _ = cli("jobs", "cancel", job.id)
    assert code == 0 and "refunded 1 credit(s) to telegram:42" in out
    assert ledger_rows(db_path, job.id) == [
        ("reserve", None),
        ("refund", "cancelled by operator (cli)"),
    ]
    assert fields(cli("quota", "show", "telegram:42")[1])["used"] == "0"
    shown = json.loads(cli("jobs", "show", job.id, "--json")[1])["job"]
    assert (shown["state"], shown["error_category"]) == ("failed", "cancelled")
    assert shown["finished_at"] is not None

    code, _, err = cli("jobs", "cancel", job.id)  # again: nothing left to do
    assert code == 1 and "already ended (cancelled)" in err
    assert [kind for kind, _ in ledger_rows(db_path, job.id)] == ["reserve", "refund"]

    code, _, err = cli("jobs", "cancel", seeded.delivered.id)
    assert code == 1 and "already ended (delivered)" in err
    code, _, err = cli("jobs", "cancel", seeded.uploading.id)
    assert code == 1 and "too late" in err
    assert [kind for kind, _ in ledger_rows(db_path, seeded.uploading.id)] == ["reserve"]
    code, _, err = cli("jobs", "cancel", "nosuchjob0")
    assert code == 1 and "no job" in err


async def test_the_bot_cannot_revive_a_cancelled_job(tmp_path: Path, db_path: Path) -> None:
    """The bot's next step on a job cancelled meanwhile raises instead of moving it."""
    from bot.records import JobClosed
    from storage.admin import OperatorStore

    made = await seed(db_path)
    async with Database.open(db_path) as bot_side, Database.open(db_path) as operator_side:
        outcome = await OperatorStore(operator_side).cancel(made.queued.id, "operator (cli)")
        assert outcome is not None and outcome.cancelled and outcome.refunded
        jobs = SqliteJobRepository(bot_side)
        with pytest.raises(JobClosed):
            await jobs.update(made.queued.id, state=JobState.SUBMITTING)
        stored = await jobs.get(made.queued.id)
        assert stored is not None and stored.state is JobState.FAILED
        assert not await SqliteQuotaLedger(bot_side).refund(made.queued.id)  # settled once


# --------------------------------------------------------------------------- backup


async def test_backup_while_another_connection_writes(tmp_path: Path, db_path: Path) -> None:
    await seed(db_path)
    target = tmp_path / "backups" / "copy.db"
    key = QuotaKey("telegram", SCOPE, "42")
    async with Database.open(db_path) as database:
        ledger = SqliteQuotaLedger(database)
        window = current_window(datetime.now(UTC), "day")
        stop = asyncio.Event()

        async def keep_writing() -> int:
            written = 0
            while not stop.is_set() or written < 20:
                await ledger.grant(key, 1, window, "writer")
                written += 1
            return written

        writer = asyncio.create_task(keep_writing())
        await asyncio.sleep(0)  # the writer is under way
        result = await backup_database(db_path, target)
        stop.set()
        written = await writer
        # a transaction left open by another process does not block the backup either
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("DELETE FROM jobs")  # uncommitted: the copy must not see it
            again = await backup_database(db_path, tmp_path / "during-lock.db")
            other.execute("ROLLBACK")
    with closing(sqlite3.connect(target)) as copy:
        grants = copy.execute("SELECT COUNT(*) FROM ledger WHERE kind = 'grant'").fetchone()[0]
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert 0 <= grants <= written  # a snapshot of one moment, whatever it was
    assert result.pages > 0 and result.user_version >= 1
    with closing(sqlite3.connect(again.target)) as copy:
        assert copy.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 4
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.db"]  # no temp left
    with pytest.raises(BackupError, match="exists"):
        await backup_database(db_path, target)


def test_db_backup_command(seeded: Seeded, cli, tmp_path: Path) -> None:
    target = tmp_path / "sora-bot.backup.db"
    code, out, _ = cli("db", "backup", str(target))
    assert code == 0 and "integrity ok" in out and target.is_file()
    code, _, err = cli("db", "backup", str(target))
    assert code == 1 and "--force" in err
    code, out, _ = cli("db", "backup", str(target), "--force", "--json")
    assert code == 0 and json.loads(out)["pages"] > 0
    with closing(sqlite3.connect(target)) as copy:
        assert copy.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 4


def test_db_backup_refuses_unsafe_targets_in_one_line(
    seeded: Seeded, cli, db_path: Path, tmp_path: Path
) -> None:
    """Never the database's own files, never a directory (even with --force); a target the
    filesystem refuses is an error line and exit 1, not a traceback."""
    directory = tmp_path / "backups"
    directory.mkdir()
    not_a_directory = tmp_path / "notes.txt"
    not_a_directory.write_text("x", encoding="utf-8")
    before = db_path.read_bytes()
    for target, says in (
        (db_path, "the database"),
        (Path(f"{db_path}-wal"), "-wal"),
        (directory, "is a directory"),
        (not_a_directory / "copy.db", "failed"),
    ):
        code, out, err = cli("db", "backup", str(target), "--force")
        assert code == 1 and says in err and "Traceback" not in out + err, (target, err)
        assert len(err.strip().splitlines()) == 1
    assert db_path.read_bytes() == before and list(directory.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_jobs_list_through_the_installed_script(seeded: Seeded, db_path: Path) -> None:
    script = Path(sys.executable).parent / "sora-bot"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    env = {**os.environ, "SORA_BOT_STORAGE__PATH": str(db_path)}
    env.pop("SORA_BOT_CONFIG", None)
    done = subprocess.run(
        [*command, "jobs", "list", "--state", "queued", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=db_path.parent,
    )
    assert done.returncode == 0, done.stderr
    assert [job["id"] for job in json.loads(done.stdout)] == [seeded.queued.id]
