"""The ``videos`` wire format: the OpenAI Videos API shape served by new-api and resellers.

``POST /videos`` (JSON, or multipart with ``input_reference`` when an image is attached),
``POST /videos/{id}/remix`` for a continuation, ``GET /videos/{id}`` until the job ends,
then ``GET /videos/{id}/content`` for the MP4 (upstream-api.md §1.1). Ids may contain
``:`` (``sora-2:task_…``): every path segment is URL-encoded, the raw id is what we keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from bot.errors import ErrorCategory, InvalidRequest, MediaError, ProviderError
from bot.media import download_video, prepare_image, probe_video, save_stream
from bot.models import Accepted, Completed, GenerationRequest, ProviderEvent, VideoFile
from bot.providers.base import BaseProvider, RunState
from bot.providers.http import error_from_response, parse_percent, transport_error
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

POLL_HINT_HEADER = "openai-poll-after-ms"
# A relay link (not the content endpoint) is fetched in one go; new-api cuts proxies at 60 s.
LINK_DOWNLOAD_TIMEOUT = 300.0
_EXPIRED_CONTENT = frozenset({404, 410, 502})  # §1.1: "502 when the upstream asset expired"
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def _segment(upstream_id: str) -> str:
    """An id as one URL path segment: ``sora-2:task_1`` → ``sora-2%3Atask_1``."""
    return quote(upstream_id, safe="")


def _poll_hint(response: httpx.Response) -> float | None:
    """``openai-poll-after-ms`` in seconds, when the relay sends a usable one."""
    try:
        return float(response.headers[POLL_HINT_HEADER]) / 1000.0
    except (KeyError, ValueError):
        return None


def _file_stem(upstream_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", upstream_id)[:80] or "video"


class VideosProvider(BaseProvider):
    """A relay speaking ``/v1/videos``: native remix, resumable from the video id."""

    format = "videos"
    remix = True
    resumable = True

    async def _follow(
        self, upstream_id: str, request: GenerationRequest, workdir: Path, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        async for event in self._track(upstream_id, workdir, first=None, first_delay=0.0):
            yield event

    # ------------------------------------------------------------------ submit

    async def _submit_and_follow(
        self, request: GenerationRequest, workdir: Path, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        response = await self._create(request, workdir, run)
        job = json_object(response, "create")
        upstream_id = accepted_id(job, "id", what="video id")
        yield Accepted(upstream_id)
        track = self._track(upstream_id, workdir, first=job, first_delay=_poll_hint(response))
        async for event in track:
            yield event

    async def _create(
        self, request: GenerationRequest, workdir: Path, run: RunState
    ) -> httpx.Response:
        """Send the create (or remix) request once; the image goes up resized to ``size``."""
        if request.parent is not None:
            parent_id = request.parent.upstream_id
            if not parent_id:
                raise ProviderError(
                    ErrorCategory.BAD_REQUEST, "the earlier video has no relay id to remix"
                )
            path = f"videos/{_segment(parent_id)}/remix"
            return await self._send(path, run, "remix", json={"prompt": request.prompt})
        size = self.capabilities.models[request.model].sizes[request.orientation]
        fields = {
            "model": request.model,
            "prompt": request.prompt,
            "seconds": str(request.seconds),  # a JSON number is refused (400 invalid_json)
            "size": size,
        }
        image = request.image
        if image is None:
            return await self._send("videos", run, "create", json=fields)
        if image.path is None:
            raise ProviderError(
                ErrorCategory.BAD_REQUEST, "this relay takes an image only as an uploaded file"
            )
        prepared = await self._prepare_reference(image.path, size, workdir)
        try:
            content = await asyncio.to_thread(prepared.read_bytes)
            mime = mimetypes.guess_type(prepared.name)[0] or "application/octet-stream"
            files = {"input_reference": (prepared.name, content, mime)}
            return await self._send("videos", run, "create", data=fields, files=files)
        finally:
            prepared.unlink(missing_ok=True)

    async def _send(self, path: str, run: RunState, what: str, **body: Any) -> httpx.Response:
        return await send_create(
            self.client,
            self.url(path),
            run,
            headers=self.headers(),
            request_timeout=self.config.request_timeout,
            what=what,
            **body,
        )

    async def _prepare_reference(self, source: Path, size: str, workdir: Path) -> Path:
        """The image resized and centre-cropped to exactly ``size`` (the relay insists)."""
        match = _SIZE.match(size)
        if match is None:
            raise ProviderError(ErrorCategory.BAD_REQUEST, f"size {size!r} is not WIDTHxHEIGHT")
        width, height = int(match.group(1)), int(match.group(2))
        await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
        dest = workdir / f"reference-{uuid.uuid4().hex}.jpg"  # prepare_image writes JPEG
        try:
            return await asyncio.to_thread(prepare_image, source, width, height, dest)
        except (InvalidRequest, MediaError) as exc:
            dest.unlink(missing_ok=True)
            raise ProviderError(
                ErrorCategory.BAD_REQUEST, "the attached image cannot be read as a picture"
            ) from exc

    # ------------------------------------------------------------------ follow

    async def _track(
        self,
        upstream_id: str,
        workdir: Path,
        *,
        first: dict[str, Any] | None,
        first_delay: float | None,
    ) -> AsyncIterator[ProviderEvent]:
        """Poll ``GET /videos/{id}`` until the job ends, then fetch the video.

        ``first`` is the create answer (already a snapshot), ``None`` when resuming.
        """
        tracker = ProgressTracker()
        final: dict[str, Any] | None = None
        if first is not None:
            events, done = self._judge(upstream_id, first, tracker)
            for event in events:
                yield event
            final = first if done else None
        if final is None:
            policy = PollPolicy(interval=self.config.poll_interval)
            snapshots = poll(
                lambda: self._fetch_status(upstream_id),
                sleep=self._sleep,
                policy=policy,
                first_delay=0.0 if first is None else policy.hinted(first_delay),
                what="status poll",
            )
            async with contextlib.aclosing(snapshots):
                async for job in snapshots:
                    events, done = self._judge(upstream_id, job, tracker)
                    for event in events:
                        yield event
                    if done:
                        final = job
                        break
        if final is None:  # pragma: no cover - poll() only ends by raising
            raise ProviderError(ErrorCategory.TRANSIENT, "polling ended without a result")
        video, link = await fetch_finished(
            lambda: self._fetch_content(upstream_id, workdir),
            sleep=self._sleep,
            policy=PollPolicy(interval=self.config.poll_interval),
        )
        yield Completed(
            video,
            upstream_id=upstream_id,
            video_url=link or video_link(final),
            expires_at=as_datetime(final.get("expires_at")),
        )

    def _judge(
        self, upstream_id: str, job: dict[str, Any], tracker: ProgressTracker
    ) -> tuple[list[ProviderEvent], bool]:
        """Events for one snapshot and whether the job is done; raises when it failed.

        An unknown or missing status with an error in the body is a failure (§1.1); with
        neither it is a stale answer and polling goes on.
        """
        phase = phase_of(job.get("status"))
        if phase is JobPhase.FAILED:
            raise job_failure(job, upstream_id)
        if phase is JobPhase.UNKNOWN:
            error = failure_in(job, upstream_id)
            if error is not None:
                raise error
        return tracker.update(phase, parse_percent(job.get("progress"))), phase is JobPhase.DONE

    async def _fetch_status(self, upstream_id: str) -> Polled[dict[str, Any]]:
        response = await self.client.get(
            self.url(f"videos/{_segment(upstream_id)}"),
            headers=self.headers(),
            timeout=self.config.request_timeout,
        )
        if response.status_code >= 400:
            raise error_from_response(response, upstream_id=upstream_id)
        return Polled(json_object(response, "status poll"), _poll_hint(response))

    # ------------------------------------------------------------------ content

    async def _fetch_content(self, upstream_id: str, workdir: Path) -> tuple[VideoFile, str | None]:
        """Download the finished video: MP4 bytes, or JSON naming a link to fetch instead."""
        await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
        dest = workdir / f"{_file_stem(upstream_id)}-{uuid.uuid4().hex[:8]}.mp4"
        link: str | None = None
        try:
            async with self.client.stream(
                "GET",
                self.url(f"videos/{_segment(upstream_id)}/content"),
                headers=self.headers(),
                timeout=self.config.request_timeout,
                follow_redirects=True,  # httpx drops our Authorization on a cross-origin hop
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise self._content_error(response, upstream_id)
                if "json" in response.headers.get("content-type", "").lower():
                    await response.aread()
                    body = json_object(response, "video content")
                    link = video_link(body)
                    if link is None:
                        raise failure_in(body, upstream_id) or ProviderError(
                            ErrorCategory.GENERATION_FAILED,
                            "the relay answered the video request without a video or a link",
                            upstream_id=upstream_id,
                        )
                else:
                    await save_stream(response, dest, max_bytes=self.max_download_bytes)
        except httpx.HTTPError as exc:
            raise transport_error(exc, "video download") from exc
        try:
            if link is None:
                return await asyncio.to_thread(probe_video, dest), None
            link = resolve_link(link, self.config.base_url)
            video = await download_video(
                self.client,
                link,
                workdir,
                headers=link_headers(link, self.config.base_url, self.headers()),
                max_bytes=self.max_download_bytes,
                timeout=LINK_DOWNLOAD_TIMEOUT,
            )
            return video, link
        except MediaError as exc:
            dest.unlink(missing_ok=True)
            raise ProviderError(
                ErrorCategory.GENERATION_FAILED,
                f"the relay's video cannot be read: {exc}",
                upstream_id=upstream_id,
            ) from exc

    @staticmethod
    def _content_error(response: httpx.Response, upstream_id: str) -> ProviderError:
        error = error_from_response(response, upstream_id=upstream_id)
        if response.status_code not in _EXPIRED_CONTENT:
            return error
        return ProviderError(
            ErrorCategory.EXPIRED,
            error.message,
            status=error.status,
            code=error.code,
            upstream_id=upstream_id,
        )
