"""``Simulator``: a local relay on 127.0.0.1 speaking the three wire formats, with faults.

It backs ``sora-bot demo``, ``sora-bot generate --simulate`` and the provider tests::

    async with Simulator(job_seconds=0.2) as sim:
        config = sim.provider_config("videos")
        sim.inject(Fault.MODERATION)
        ...
        assert sim.requests[0].json["seconds"] == "4"

Everything under ``/v1`` needs ``Authorization: Bearer <api_key>``; the public file links
under ``/files`` need nothing, like the CDN links real relays hand out.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import SecretStr

from bot.config import ModelConfig, ProviderConfig
from bot.lifecycle import StartStop
from bot.models import Orientation, WireFormat
from bot.providers.simulator.chat import ChatFormat
from bot.providers.simulator.faults import Fault, FaultPoint
from bot.providers.simulator.jobs import Phase, SimJob
from bot.providers.simulator.media import MediaStore
from bot.providers.simulator.recording import RecordedRequest, capture
from bot.providers.simulator.state import (
    Clock,
    IdStyle,
    SimOptions,
    SimState,
    Sleep,
    StatusStyle,
    is_pro,
)
from bot.providers.simulator.unified import UnifiedFormat
from bot.providers.simulator.videos import VideosFormat
from bot.providers.simulator.wire import NGINX_404, Ids, html_page, new_api_error, unauthorized

_MAX_BODY = 64 * 1024 * 1024
_TEST_POLL_INTERVAL = 0.05  # seconds: provider configs made here poll fast


class Simulator(StartStop):
    """A relay on loopback. ``start`` (or ``async with``) binds a random port."""

    def __init__(
        self,
        media_dir: Path | None = None,
        *,
        api_key: str = "sim-key",
        models: Sequence[str] = ("sim-video", "sim-video-pro"),
        job_seconds: float = 2.0,
        poll_after_ms: int = 200,
        chat_variant: Literal["A", "B"] = "A",
        video_scale: float = 0.25,
        video_seconds_cap: float = 2.0,
        id_style: IdStyle = "video",
        status_style: StatusStyle = "official",
        retry_after: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        seed: int | None = None,
    ) -> None:
        """``clock`` drives job progress and ``sleep`` paces chat streams: inject both to
        run jobs on fake time. ``seed`` makes ids repeatable. ``id_style`` picks the videos
        ids (``video_<hex>``, new-api ``task_…``, or ``<model>:task_…`` with a colon);
        ``status_style="newapi"`` answers ``IN_PROGRESS``/``SUCCESS`` and ``"30%"``."""
        if job_seconds <= 0:
            raise ValueError("job_seconds must be positive")
        if not models:
            raise ValueError("the simulator needs at least one model")
        options = SimOptions(
            api_key=api_key,
            models=tuple(models),
            job_seconds=job_seconds,
            poll_after_ms=poll_after_ms,
            chat_variant=chat_variant,
            id_style=id_style,
            status_style=status_style,
            retry_after=retry_after,
        )
        media = MediaStore(media_dir, scale=video_scale, seconds_cap=video_seconds_cap)
        self._state = SimState(
            options, clock=clock, sleep=sleep, media=media, ids=Ids(random.Random(seed))
        )
        self._runner: web.AppRunner | None = None
        self.base_url = ""  # "http://127.0.0.1:<port>/v1" once started

    # ------------------------------------------------------------------ what tests read

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, oldest first (auth header values never recorded)."""
        return self._state.requests

    @property
    def jobs(self) -> dict[str, SimJob]:
        """Every accepted job by id."""
        return self._state.jobs

    @property
    def media_dir(self) -> Path:
        """Where the rendered MP4s are cached (a temporary directory unless one was given)."""
        return self._state.media.directory

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: the root of the public file links."""
        return self._state.origin

    # ------------------------------------------------------------------ lifetime

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._state.media.open()
        app = web.Application(middlewares=[self._middleware()], client_max_size=_MAX_BODY)
        for fmt in (VideosFormat, UnifiedFormat, ChatFormat):
            fmt(self._state).add_routes(app)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/files/{name}", self._file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self._state.closing.clear()
        self._state.origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.base_url = f"{self._state.origin}/v1"

    async def stop(self) -> None:
        """End open streams, close the server, remove a temporary media directory."""
        if self._runner is None:
            return
        self._state.closing.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()
        await self._state.media.close()

    # ------------------------------------------------------------------ test controls

    def inject(
        self,
        fault: Fault | str,
        *,
        count: int = 1,
        format: WireFormat | str | None = None,
        on: FaultPoint | None = None,
    ) -> None:
        """Make the next ``count`` matching requests (or new jobs) show ``fault``.

        ``format`` limits it to one wire format. ``on`` places a transient fault
        (``RATE_LIMIT``, ``SERVER_ERROR``): ``"submit"`` (default), ``"poll"`` or
        ``"content"`` (a download). Raises ``ValueError`` for a combination that cannot
        happen (``CUT_STREAM`` on ``videos``, a poll on ``chat``…).
        """
        fmt = WireFormat(format) if format is not None else None
        self._state.faults.inject(Fault(fault), count=count, format=fmt, on=on)

    def provider_config(
        self, format: WireFormat | str, *, name: str | None = None, **overrides: Any
    ) -> ProviderConfig:
        """A ``ProviderConfig`` pointing at this simulator, polling fast; ``overrides`` win."""
        if not self.base_url:
            raise RuntimeError("start the simulator before asking for a provider config")
        fmt = WireFormat(format)
        large = {Orientation.PORTRAIT: "large", Orientation.LANDSCAPE: "large"}
        models: list[str | ModelConfig] = [
            ModelConfig(name=model, sizes=large)
            if fmt is WireFormat.UNIFIED and is_pro(model)
            else model
            for model in self._state.options.models
        ]
        fields: dict[str, Any] = {
            "name": name or f"sim-{fmt.value}",
            "format": fmt,
            "base_url": self.base_url,
            "api_key": SecretStr(self._state.options.api_key),
            "models": models,
            "poll_interval": _TEST_POLL_INTERVAL,
            "request_timeout": 10.0,
        }
        fields.update(overrides)
        return ProviderConfig(**fields)

    # ------------------------------------------------------------------ shared routes

    def _middleware(self) -> Middleware:
        expected = f"Bearer {self._state.options.api_key}".encode()

        @web.middleware
        async def record_and_authorise(
            request: web.Request, handler: Handler
        ) -> web.StreamResponse:
            given = request.headers.get("Authorization", "").encode()
            authorized = hmac.compare_digest(given, expected)
            self._state.begin(request, await capture(request, authorized=authorized))
            protected = request.path == "/v1" or request.path.startswith("/v1/")
            try:
                if protected and not authorized:
                    return unauthorized(self._state.request_id())
                return await handler(request)
            except web.HTTPNotFound:
                if not protected:
                    raise
                message = f"Invalid URL ({request.method} {request.path})"
                rid = self._state.request_id()
                return new_api_error(404, message, "", rid, error_type="invalid_request_error")
            finally:
                self._state.end(request)

        return record_and_authorise

    async def _models(self, request: web.Request) -> web.StreamResponse:
        created = int(time.time())
        data = [
            {"id": model, "object": "model", "created": created, "owned_by": "custom"}
            for model in self._state.options.models
        ]
        return web.json_response({"data": data, "object": "list", "success": True})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """Public links: ``<token>.mp4`` / ``<token>?video-file=1`` (MP4), ``.webp``, ``.json``."""
        token, _, suffix = request.match_info["name"].partition(".")
        job = self._state.job_by_token(token)
        if job is None or suffix not in ("", "mp4", "webp", "json"):
            return html_page(404, NGINX_404)
        state = await self._state.observe(job)
        if suffix == "json":
            return web.json_response(
                {"id": job.id, "status": state.phase.value, "progress": state.progress}
                | {"model": job.model, "prompt": job.prompt, "created_at": job.created_at}
            )
        if state.phase is not Phase.COMPLETED or Fault.EXPIRED in job.faults:
            return html_page(404, NGINX_404)
        if suffix == "webp":
            return web.Response(body=self._state.media.preview(job), content_type="image/webp")
        failure = self._state.transient("content", job.format, job)
        if failure is not None:
            return failure
        job.content_fetches += 1
        path = await self._state.media.video(job)
        return web.FileResponse(path, headers={"Content-Type": "video/mp4"})
