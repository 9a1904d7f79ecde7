"""``/healthz`` and ``/metrics`` over HTTP, and the database writability probe."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.errors import ConfigError
from bot.observability.metrics import Metrics
from bot.observability.server import HealthCheck, OpsServer
from storage.db import MEMORY, Database


@dataclass
class FakePlatform:
    platform: str
    connected: bool = True

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def probe(answer: bool) -> Callable[[], Awaitable[bool]]:
    async def writable() -> bool:
        return answer

    return writable


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database.open(tmp_path / "bot.db") as database:
        yield database


async def serve_and_get(health: HealthCheck, path: str) -> httpx.Response:
    metrics = Metrics(CollectorRegistry())
    metrics.rate_limited.labels("telegram").inc()
    async with (
        OpsServer(metrics.registry, health, host="127.0.0.1", port=0) as server,
        httpx.AsyncClient() as client,
    ):
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":0")
        return await client.get(server.url + path)


async def test_healthy_when_every_platform_is_connected_and_the_db_writable(
    db: Database,
) -> None:
    platforms = [FakePlatform("telegram"), FakePlatform("discord")]
    response = await serve_and_get(HealthCheck(platforms, db.writable), "/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "platforms": {"telegram": True, "discord": True},
        "database": "writable",
    }


async def test_a_disconnected_platform_makes_it_unhealthy() -> None:
    platforms = [FakePlatform("telegram"), FakePlatform("discord", connected=False)]
    response = await serve_and_get(HealthCheck(platforms, probe(True)), "/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["platforms"] == {"telegram": True, "discord": False}


@pytest.mark.parametrize("answer", ["no", "raises"])
async def test_a_database_that_cannot_write_makes_it_unhealthy(answer: str) -> None:
    async def broken() -> bool:
        raise sqlite3.OperationalError("disk I/O error")

    check = probe(False) if answer == "no" else broken
    response = await serve_and_get(HealthCheck([FakePlatform("telegram")], check), "/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "not writable"


async def test_metrics_are_the_prometheus_text_format_of_the_registry() -> None:
    response = await serve_and_get(HealthCheck([], None), "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    (sample,) = families["sora_bot_platform_rate_limited"].samples[:1]
    assert sample.labels == {"platform": "telegram"} and sample.value == 1.0
    assert {"sora_bot_job_transitions", "sora_bot_queue_waiting"} <= set(families)


async def test_a_port_in_use_is_a_config_error() -> None:
    health = HealthCheck([], None)
    registry = CollectorRegistry()
    async with OpsServer(registry, health, host="127.0.0.1", port=0) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(ConfigError, match=r"metrics\.port: cannot listen on 127\.0\.0\.1"):
            await OpsServer(registry, health, host="127.0.0.1", port=port).start()


# --------------------------------------------------------------------------- the probe


async def test_the_database_probe_changes_nothing(db: Database) -> None:
    assert await db.writable() is True
    assert await db.writable() is True
    tables = await db.fetch_all("SELECT name FROM sqlite_master WHERE name LIKE '%probe%'")
    assert tables == []


async def test_the_probe_fails_while_another_process_holds_the_write_lock(
    db: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "bot.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert await db.writable(lock_wait=0.05) is False
        other.execute("ROLLBACK")
        assert await db.writable(lock_wait=0.05) is True
    finally:
        other.close()


async def test_the_probe_fails_when_the_file_is_gone(db: Database, tmp_path: Path) -> None:
    (tmp_path / "bot.db").rename(tmp_path / "moved.db")
    assert await db.writable() is False
    assert not (tmp_path / "bot.db").exists()  # the probe never creates a database


async def test_an_in_memory_database_is_probed_on_its_own_connection() -> None:
    async with Database.open(MEMORY) as database:
        assert await database.writable() is True
        await database.connection.execute("PRAGMA query_only = ON")
        assert await database.writable() is False
