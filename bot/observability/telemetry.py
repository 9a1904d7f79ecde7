"""What the core reports about its work: the ``Telemetry`` port and its no-op default.

The composition root (``bot.cli.runtime.open_core``) hands one ``Telemetry`` to the core;
``sora-bot run`` with a metrics port gives it ``bot.observability.metrics.Metrics``. Tests
and the demo get ``NoTelemetry``, which does nothing, so they need no registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.ports import Outbox
from bot.queue import ProviderSlots
from bot.records import JobState


@dataclass(frozen=True, slots=True, kw_only=True)
class JobChange:
    """One job entering a state, with the durations known so far (seconds).

    ``previous`` is None when this process had not seen the job before: it was just
    created, or resumed after a restart (whose earlier phases ran in another process, so
    their durations are unknown here).
    """

    job_id: str
    user: str  # "platform:scope:user_id", the quota key
    provider: str
    model: str
    state: JobState
    previous: JobState | None
    queued: float | None = None  # request accepted → submitted to the relay
    generation: float | None = None  # submitted → video downloaded (or the job failed)
    delivery: float | None = None  # upload started → delivered (or the job failed)
    total: float | None = None  # request accepted → final state
    error: str | None = None  # the failure's category (an ``ErrorCategory`` value or ours)


class Telemetry(Protocol):
    """Hooks the core calls as it works. Implementations must be cheap and never raise."""

    def job_changed(self, change: JobChange) -> None:
        """A job entered a new state (called once per change, by ``JobJournal``)."""
        ...

    def upstream_error(self, provider: str, category: str) -> None:
        """A relay ended a job with an error of ``category`` (an ``ErrorCategory`` value)."""
        ...

    def watch_outbox(self, platform: str, outbox: Outbox) -> Outbox:
        """The outbox the core should use for ``platform``: ``outbox`` itself or a wrapper
        that observes it (counting the platform's rate limits)."""
        ...

    def watch_queues(self, slots: Mapping[str, ProviderSlots]) -> None:
        """The providers' queues, read whenever the metrics are collected."""
        ...


class NoTelemetry:
    """Telemetry that records nothing: the default of tests and the demo."""

    def job_changed(self, change: JobChange) -> None:
        pass

    def upstream_error(self, provider: str, category: str) -> None:
        pass

    def watch_outbox(self, platform: str, outbox: Outbox) -> Outbox:
        return outbox

    def watch_queues(self, slots: Mapping[str, ProviderSlots]) -> None:
        pass
