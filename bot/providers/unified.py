"""The ``unified`` wire format: ``/v1/video/create`` + ``/v1/video/query``, resold by several
relays (upstream-api.md §1.2, seed 003).

The create body is JSON with ``images`` (public URLs only, ``[]`` for text-to-video: some
relays refuse a missing key), ``size`` ``small``/``large`` and ``duration`` as an INTEGER.
The answer's ``id`` (``sora-2:task_…``) is queried as ``GET /video/query?id=<url-encoded>``
until ``video_url`` appears. There is no remix endpoint: a continuation is a new job.
Relays answer 429 to fast polling, so the poll never runs faster than ``poll_interval``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bot.errors import ErrorCategory, MediaError, ProviderError
from bot.media import download_video
from bot.models import Accepted, Completed, GenerationRequest, ProviderEvent
from bot.providers.base import BaseProvider, RunState
from bot.providers.http import error_from_response, parse_percent, parse_timestamp
from bot.providers.polling import (
    JobPhase,
    Polled,
    PollPolicy,
    ProgressTracker,
    accepted_id,
    as_datetime,
    failure_in,
    fetch_finished,
    job_failure,
    json_object,
    link_headers,
    phase_of,
    poll,
    resolve_link,
    send_create,
    video_link,
)

log = logging.getLogger(__name__)

# The link is a CDN or relay file; one download, bounded as a whole.
LINK_DOWNLOAD_TIMEOUT = 300.0


class UnifiedProvider(BaseProvider):
    """A relay speaking ``/v1/video/create``: resumable from the task id, no native remix."""

    format = "unified"
    remix = False
    resumable = True

    async def _follow(
        self, upstream_id: str, request: GenerationRequest, workdir: Path, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        async for event in self._track(upstream_id, workdir, first=None):
            yield event

    async def _submit_and_follow(
        self, request: GenerationRequest, workdir: Path, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        image_url = request.image.url if request.image is not None else None
        body = {
            "images": [image_url] if image_url else [],
            "model": request.model,
            "orientation": request.orientation.value,
            "prompt": request.prompt,
            "size": self.capabilities.models[request.model].sizes[request.orientation],
            "duration": int(request.seconds),  # an integer here, unlike the videos format
        }
        response = await send_create(
            self.client,
            self.url("video/create"),
            run,
            headers=self.headers(),
            request_timeout=self.config.request_timeout,
            what="create",
            json=body,
        )
        job = json_object(response, "create")
        upstream_id = accepted_id(job, "id", "task_id", what="task id")
        yield Accepted(upstream_id)
        async for event in self._track(upstream_id, workdir, first=job):
            yield event

    async def _track(
        self, upstream_id: str, workdir: Path, *, first: dict[str, Any] | None
    ) -> AsyncIterator[ProviderEvent]:
        """Query the task every ``poll_interval`` until it has a video, then download it.

        ``first`` is the create answer (its status is shown, but it never has a video yet);
        ``None`` when resuming after a restart, which queries at once.
        """
        tracker = ProgressTracker()
        if first is not None:
            for event in self._judge(upstream_id, first, tracker)[0]:
                yield event
        interval = self.config.poll_interval
        policy = PollPolicy(interval=interval, min_interval=interval)
        snapshots = poll(
            lambda: self._query(upstream_id),
            sleep=self._sleep,
            policy=policy,
            first_delay=0.0 if first is None else interval,
            what="status query",
        )
        final: tuple[dict[str, Any], str] | None = None
        async with contextlib.aclosing(snapshots):
            async for job in snapshots:
                events, link = self._judge(upstream_id, job, tracker)
                for event in events:
                    yield event
                if link is not None:
                    final = (job, link)
                    break
        if final is None:  # pragma: no cover - poll() only ends by raising
            raise ProviderError(ErrorCategory.TRANSIENT, "polling ended without a result")
        job, link = final
        link = resolve_link(link, self.config.base_url)
        try:
            video = await fetch_finished(
                lambda: download_video(
                    self.client,
                    link,
                    workdir,
                    headers=link_headers(link, self.config.base_url, self.headers()),
                    max_bytes=self.max_download_bytes,
                    timeout=LINK_DOWNLOAD_TIMEOUT,
                ),
                sleep=self._sleep,
                policy=policy,
            )
        except MediaError as exc:
            raise ProviderError(
                ErrorCategory.GENERATION_FAILED,
                f"the relay's video cannot be read: {exc}",
                upstream_id=upstream_id,
            ) from exc
        yield Completed(
            video,
            upstream_id=upstream_id,
            video_url=link,
            expires_at=as_datetime(job.get("expires_at")),
        )

    def _judge(
        self, upstream_id: str, job: dict[str, Any], tracker: ProgressTracker
    ) -> tuple[list[ProviderEvent], str | None]:
        """Events for one query answer, and the video link once the task has one.

        A task reported done without a link yet keeps being polled (relays fill
        ``video_url`` a moment after the status flips); the deadline bounds that.
        """
        phase = phase_of(job.get("status"))
        if phase is JobPhase.FAILED:
            raise job_failure(job, upstream_id)
        if phase is JobPhase.UNKNOWN:
            error = failure_in(job, upstream_id)
            if error is not None:
                raise error
        updated = parse_timestamp(job.get("status_update_time"))  # milliseconds on the wire
        log.debug("task %s: %s (updated at %s)", upstream_id, job.get("status"), updated)
        link = video_link(job) if phase is JobPhase.DONE else None
        return tracker.update(phase, parse_percent(job.get("progress"))), link

    async def _query(self, upstream_id: str) -> Polled[dict[str, Any]]:
        response = await self.client.get(
            self.url(f"video/query?id={quote(upstream_id, safe='')}"),
            headers=self.headers(),
            timeout=self.config.request_timeout,
        )
        if response.status_code >= 400:
            raise error_from_response(response, upstream_id=upstream_id)
        return Polled(json_object(response, "status query"))
