"""Prometheus metrics: the ``Telemetry`` of ``sora-bot run`` when ``[metrics] port`` is set.

Every metric lives in the ``CollectorRegistry`` given to ``Metrics`` (never the library's
global one), so tests and several bots in one process do not share counters. Labels are
bounded sets (provider, state, category, platform); job and user ids go to the logs, not
to labels. docs/operations.md lists each metric with its meaning.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from bot.errors import ErrorCategory, PlatformRateLimited
from bot.models import Capabilities, Conversation, MessageRef, VideoFile
from bot.observability.telemetry import JobChange
from bot.ports import Outbox
from bot.queue import ProviderSlots
from bot.records import ACTIVE, JobState

T = TypeVar("T")

# Seconds. Queue waits range from nothing to the length of a busy queue; generations take
# from under a minute to the 30-minute deadline; uploads from a second to a few minutes.
QUEUE_BUCKETS = (0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800)
GENERATION_BUCKETS = (10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800)
DELIVERY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    """Records the core's telemetry as Prometheus metrics in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.transitions = Counter(
            "sora_bot_job_transitions",
            "Jobs that entered each state.",
            ["provider", "state"],
            registry=registry,
        )
        self.active = Gauge(
            "sora_bot_jobs_active",
            "Jobs this process is working on, by their current state.",
            ["provider", "state"],
            registry=registry,
        )
        self.queue_wait = Histogram(
            "sora_bot_queue_wait_seconds",
            "From the request to its submission to the relay (waiting for a provider slot).",
            ["provider"],
            buckets=QUEUE_BUCKETS,
            registry=registry,
        )
        self.generation = Histogram(
            "sora_bot_generation_seconds",
            "From submission to the downloaded video, for generations that succeeded.",
            ["provider"],
            buckets=GENERATION_BUCKETS,
            registry=registry,
        )
        self.delivery = Histogram(
            "sora_bot_delivery_seconds",
            "From the start of the upload to the delivered video (fitting included).",
            ["provider"],
            buckets=DELIVERY_BUCKETS,
            registry=registry,
        )
        self.upstream_errors = Counter(
            "sora_bot_upstream_errors",
            "Jobs a relay ended with an error, by error category.",
            ["provider", "category"],
            registry=registry,
        )
        self.rate_limited = Counter(
            "sora_bot_platform_rate_limited",
            "Calls a chat platform refused for flooding (HTTP 429, RetryAfter).",
            ["platform"],
            registry=registry,
        )
        self._queues = QueueCollector()
        registry.register(self._queues)

    # ------------------------------------------------------------------ Telemetry

    def job_changed(self, change: JobChange) -> None:
        provider, state = change.provider, change.state
        self.transitions.labels(provider, state.value).inc()
        if change.previous is not None and change.previous in ACTIVE:
            self.active.labels(provider, change.previous.value).dec()
        if state in ACTIVE:
            self.active.labels(provider, state.value).inc()
        if change.previous is JobState.QUEUED and change.queued is not None:
            self.queue_wait.labels(provider).observe(change.queued)
        if state is JobState.UPLOADING and change.generation is not None:
            self.generation.labels(provider).observe(change.generation)
        if state is JobState.DELIVERED and change.delivery is not None:
            self.delivery.labels(provider).observe(change.delivery)

    def upstream_error(self, provider: str, category: str) -> None:
        self.upstream_errors.labels(provider, category).inc()

    def watch_outbox(self, platform: str, outbox: Outbox) -> Outbox:
        counter = self.rate_limited.labels(platform)  # shown as 0 from the start
        return RateLimitCounting(outbox, counter.inc)

    def watch_queues(self, slots: Mapping[str, ProviderSlots]) -> None:
        self._queues.watch(slots)
        for provider in slots:  # every series of a known provider exists from the start
            for state in JobState:
                self.transitions.labels(provider, state.value)
            for state in ACTIVE:
                self.active.labels(provider, state.value)
            for category in ErrorCategory:
                self.upstream_errors.labels(provider, category.value)
            for histogram in (self.queue_wait, self.generation, self.delivery):
                histogram.labels(provider)


class QueueCollector:
    """Reads the providers' queues when the metrics are scraped (nothing to keep in sync)."""

    def __init__(self) -> None:
        self._slots: dict[str, ProviderSlots] = {}

    def watch(self, slots: Mapping[str, ProviderSlots]) -> None:
        self._slots.update(slots)

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        waiting, running = self._families()
        for provider, slots in self._slots.items():
            waiting.add_metric([provider], slots.waiting)
            running.add_metric([provider], slots.running)
        return [waiting, running]

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                "sora_bot_queue_waiting",
                "Jobs waiting for one of the provider's slots.",
                labels=["provider"],
            ),
            GaugeMetricFamily(
                "sora_bot_queue_running",
                "The provider's slots in use (jobs submitted and not yet finished).",
                labels=["provider"],
            ),
        ]


class RateLimitCounting:
    """An ``Outbox`` that counts the platform's rate-limit refusals on the way through.

    Every call of the core to a platform passes here (status posts and edits, videos,
    notices), so one wrapper sees every ``PlatformRateLimited`` the core handles.
    """

    def __init__(self, outbox: Outbox, on_rate_limited: Callable[[], None]) -> None:
        self._outbox = outbox
        self._on_rate_limited = on_rate_limited

    def capabilities(self, conversation: Conversation) -> Capabilities:
        return self._outbox.capabilities(conversation)

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        return await self._counted(self._outbox.send_status(conversation, text, reply_to=reply_to))

    async def edit_status(self, message: MessageRef, text: str) -> None:
        await self._counted(self._outbox.edit_status(message, text))

    async def send_video(
        self,
        conversation: Conversation,
        video: VideoFile,
        *,
        caption: str,
        thumbnail: Path | None,
        reply_to: MessageRef | None,
        job_id: str,
        buttons: bool,
        in_place_of: MessageRef | None = None,
    ) -> MessageRef:
        return await self._counted(
            self._outbox.send_video(
                conversation,
                video,
                caption=caption,
                thumbnail=thumbnail,
                reply_to=reply_to,
                job_id=job_id,
                buttons=buttons,
                in_place_of=in_place_of,
            )
        )

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        return await self._counted(self._outbox.send_text(conversation, text, reply_to=reply_to))

    async def _counted(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except PlatformRateLimited:
            self._on_rate_limited()
            raise
