"""What the three wire formats share: validation, the per-job deadline, and the guarantee
that a job's event stream ends in exactly one ``Completed`` or ``Failed`` (never a traceback).

A format implements ``_submit_and_follow`` (and ``_follow`` if it can resume) as an async
generator that yields events and raises ``ProviderError`` for upstream faults. It records
``run.sent = True`` *before* sending the create request: after that moment an ambiguous
failure must not be retried (no API here has idempotency keys), and a relay that bills
failures has billed this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.config import ProviderConfig
from bot.errors import ConfigError, ErrorCategory, InvalidRequest, MediaError, ProviderError
from bot.models import (
    Accepted,
    Completed,
    Failed,
    GenerationRequest,
    ProbeResult,
    Progress,
    ProviderCapabilities,
    ProviderEvent,
)
from bot.providers.http import bearer, error_from_response, redact, transport_error

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(slots=True)
class RunState:
    """What one job's run has learnt so far; read when it ends badly."""

    sent: bool = False
    upstream_id: str | None = None


class BaseProvider:
    """Shared behaviour of the ``videos``, ``unified`` and ``chat`` formats."""

    format: str = ""
    remix: bool = False
    resumable: bool = True

    def __init__(
        self,
        config: ProviderConfig,
        client: httpx.AsyncClient,
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.config = config
        self.name = config.name
        self.client = client
        self._sleep = sleep
        self._clock = clock
        self.capabilities = ProviderCapabilities(
            remix=self.remix,
            image_input=config.image_mode,
            models=config.model_capabilities(),
            resumable=self.resumable,
        )

    # ------------------------------------------------------------------ public interface

    def validate(self, request: GenerationRequest) -> None:
        """Raise ``InvalidRequest`` naming the allowed values, before anything is sent."""
        model = self.capabilities.models.get(request.model)
        if model is None:
            raise InvalidRequest(
                "unknown_model", model=request.model, allowed=", ".join(self.capabilities.models)
            )
        if request.seconds not in model.seconds:
            raise InvalidRequest(
                "bad_seconds",
                seconds=request.seconds,
                model=model.name,
                allowed=", ".join(str(s) for s in model.seconds),
            )
        if request.orientation not in model.orientations:
            raise InvalidRequest(
                "bad_orientation",
                orientation=request.orientation.value,
                model=model.name,
                allowed=", ".join(o.value for o in model.orientations),
            )
        if not request.prompt.strip():
            raise InvalidRequest("empty_prompt")
        image = request.image
        if image is not None:
            mode = self.capabilities.image_input
            if mode == "none":
                raise InvalidRequest("image_not_supported", provider=self.name)
            if mode == "url" and not image.url:
                raise InvalidRequest("image_needs_url", provider=self.name)
            if mode == "file" and image.path is None:
                raise InvalidRequest("image_needs_file", provider=self.name)
        if request.parent is not None and not self.remix:
            raise InvalidRequest("remix_not_supported", provider=self.name)

    async def generate(
        self, request: GenerationRequest, workdir: Path
    ) -> AsyncIterator[ProviderEvent]:
        self.validate(request)
        run = RunState()
        async for event in self._guarded(self._submit_and_follow(request, workdir, run), run):
            yield event

    async def resume(
        self, upstream_id: str, request: GenerationRequest, workdir: Path
    ) -> AsyncIterator[ProviderEvent]:
        run = RunState(sent=True, upstream_id=upstream_id)
        async for event in self._guarded(self._follow(upstream_id, request, workdir, run), run):
            yield event

    async def probe(self) -> ProbeResult:
        """List the relay's models (``GET /models``): proves the URL and the key, costs nothing."""
        try:
            response = await self.client.get(
                f"{self.config.base_url}/models", headers=self.headers(), timeout=15.0
            )
        except httpx.HTTPError as exc:
            return ProbeResult(self.name, False, transport_error(exc, "GET /models").message)
        if response.status_code >= 400:
            err = error_from_response(response)
            return ProbeResult(self.name, False, f"{err.category.value}: {err.message}")
        try:
            listed = {
                str(m.get("id")) for m in response.json().get("data", []) if isinstance(m, dict)
            }
        except (ValueError, AttributeError):
            listed = set()
        configured = tuple(self.capabilities.models)
        if listed:
            missing = [m for m in configured if m not in listed]
            detail = "ok" if not missing else f"relay does not list: {', '.join(missing)}"
            return ProbeResult(self.name, not missing, detail, tuple(sorted(listed)))
        return ProbeResult(self.name, True, "ok (relay lists no models)", ())

    # ------------------------------------------------------------------ for the formats

    def headers(self) -> dict[str, str]:
        return bearer(self.config.key())

    def url(self, path: str) -> str:
        return f"{self.config.base_url}/{path.lstrip('/')}"

    @property
    def max_download_bytes(self) -> int:
        return self.config.download_max_mb * 1024 * 1024

    async def _submit_and_follow(
        self, request: GenerationRequest, workdir: Path, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        raise NotImplementedError  # pragma: no cover - every format overrides it
        yield  # pragma: no cover

    async def _follow(
        self, upstream_id: str, request: GenerationRequest, workdir: Path, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        raise ProviderError(
            ErrorCategory.TRANSIENT,
            "this format cannot follow a job after a restart",
            upstream_id=upstream_id,
        )
        yield  # pragma: no cover

    # ------------------------------------------------------------------ the guarantee

    async def _guarded(
        self, events: AsyncIterator[ProviderEvent], run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        """Run ``events`` in its own task under the deadline; end in Completed or Failed.

        Progress is made monotonic here, once for every format.
        """
        queue: asyncio.Queue[ProviderEvent | BaseException | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for event in events:
                    await queue.put(event)
            except BaseException as exc:  # handed over to the consumer, re-raised there
                await queue.put(exc)
            else:
                await queue.put(None)

        deadline = self._clock() + self.config.deadline_minutes * 60
        task = asyncio.create_task(pump(), name=f"provider:{self.name}")
        best = -1
        try:
            while True:
                remaining = deadline - self._clock()
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for wraps the get in a task
                    # of its own, and a shutdown cancel racing it could leave the job hanging
                    async with asyncio.timeout(max(remaining, 0.001)):
                        item = await queue.get()
                except TimeoutError:
                    yield self._failed(
                        ErrorCategory.TIMEOUT,
                        f"no result after {self.config.deadline_minutes:g} minutes",
                        run,
                    )
                    return
                if item is None:
                    yield self._failed(
                        ErrorCategory.TRANSIENT, "the relay ended the job without a video", run
                    )
                    return
                if isinstance(item, asyncio.CancelledError):
                    raise item
                if isinstance(item, ProviderError):
                    yield self._failed(item.category, item.message, run, item.upstream_id)
                    return
                if isinstance(item, MediaError):
                    message = f"the relay's video is unusable: {item}"
                    yield self._failed(ErrorCategory.GENERATION_FAILED, message, run)
                    return
                if isinstance(item, BaseException):
                    log.exception("provider %s crashed", self.name, exc_info=item)
                    yield self._failed(
                        ErrorCategory.TRANSIENT, f"internal error ({type(item).__name__})", run
                    )
                    return
                if isinstance(item, Accepted):
                    run.upstream_id = item.upstream_id
                elif isinstance(item, Progress):
                    if item.percent <= best:
                        continue
                    best = item.percent
                yield item
                if isinstance(item, Completed | Failed):
                    return
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    def _failed(
        self, category: ErrorCategory, message: str, run: RunState, upstream_id: str | None = None
    ) -> Failed:
        billed = run.sent and self.config.bills_failures
        try:
            secret = self.config.key()
        except ConfigError:
            secret = ""
        return Failed(
            category=category.value,
            message=redact(message, secret),  # a relay may echo the key it was given
            refundable=not billed,
            upstream_id=upstream_id or run.upstream_id,
        )
