"""Fixtures shared by the provider tests; the doubles themselves live in ``relay_fakes``.

A test module may override one of these with its own fixture of the same name (the chat
tests script their relay differently; the unified tests need a landscape clip).
"""

from __future__ import annotations

import pytest

from tests.relay_fakes import FakeRelay, FakeTime, synth_clip


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
