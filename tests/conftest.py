"""Fixtures shared by the provider tests; the doubles themselves live in ``relay_fakes``.

A test module may override one of these with its own fixture of the same name (the chat
tests script their relay differently; the unified tests need a landscape clip).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.relay_fakes import FakeRelay, FakeTime, synth_clip

# Hypothesis (the abuse suite, tests/test_abuse_*.py): no example database and no cache in
# the working tree (no ``.hypothesis/``); in CI (``CI`` set) the examples are derived from
# each test's name, so a run is repeatable; locally they are random, to keep exploring.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "sora-bot-hypothesis")
# Neither profile times anything: on a busy 2-core runner generating a 100k-character
# input can take long enough to trip Hypothesis's "too slow" health check, which would say
# something about the machine, not about the code.
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, max_examples=100, database=None, **_UNTIMED)
settings.register_profile("dev", max_examples=100, database=None, **_UNTIMED)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="module")
def mp4_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A portrait 64x112 MP4 with audio, made once per module."""
    return synth_clip(tmp_path_factory)


@pytest.fixture
def relay() -> FakeRelay:
    return FakeRelay()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
