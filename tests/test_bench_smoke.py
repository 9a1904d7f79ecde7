"""The load and freshness benchmarks still run, at a tiny size, and report what the
documentation (``docs/performance.md``) reads from them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str, output: Path) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(output.read_text(encoding="utf-8"))


def test_load_on_the_core_delivers_every_job_without_a_429(tmp_path: Path) -> None:
    figures = run_bench(
        "load.py",
        *("--jobs", "5", "--platform", "core", "--users", "5", "--chats", "5"),
        *("--job-seconds", "1", "--poll-seconds", "1"),
        output=tmp_path / "load.json",
    )
    assert figures["delivered"] == figures["jobs"] == 5
    assert figures["rate_limited"] == 0
    assert figures["all_jobs_ended"] is True
    assert figures["peak_rss_mb"] > 0 and figures["cpu_s_per_job"] > 0
    assert set(figures["loop_lag_ms"]) >= {"p50", "p99", "max"}
    assert figures["completion_to_upload_s"]["count"] == 5
    assert 0 < figures["completion_to_upload_s"]["p50"] < 10
    assert figures["status_posts_per_job"] == 1.0
    assert {"commit", "cpu", "python", "load_average"} <= set(figures["machine"])


def test_freshness_is_never_better_than_the_floor(tmp_path: Path) -> None:
    figures = run_bench(
        "freshness.py",
        *("--k", "1", "3", "--job-seconds", "120", "--poll-seconds", "10"),
        output=tmp_path / "fresh.json",
    )
    rows = {row["k"]: row for row in figures["rows"]}
    assert set(rows) == {1, 3}
    for row in rows.values():
        assert row["rate_limited"] == 0
        assert row["delivered"] == row["k"]
        assert row["samples"] > 0
        assert row["floor_s"] <= row["mean_age_s"] <= row["p95_age_s"]
    # one job: each poll is shown at once, so the age is the poll's own (half of 10 s)
    assert abs(rows[1]["mean_age_s"] - 5.0) < 1.0
