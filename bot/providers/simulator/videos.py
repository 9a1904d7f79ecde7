"""The ``videos`` format (upstream-api.md §1.1): OpenAI's Videos API as new-api serves it.

``POST /v1/videos`` (JSON, or multipart with ``input_reference``), ``GET /v1/videos/{id}``,
``GET /v1/videos/{id}/content`` and ``POST /v1/videos/{id}/remix``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.models import Orientation, WireFormat
from bot.providers.simulator.faults import Fault, parse_markers
from bot.providers.simulator.jobs import FilePart, Phase, SimJob, Snapshot
from bot.providers.simulator.recording import RecordedRequest
from bot.providers.simulator.state import SimState, is_pro
from bot.providers.simulator.wire import model_not_found, new_api_error

SECONDS = ("4", "8", "12", "10", "15", "25")  # official values, then what some relays add
SIZES = ("720x1280", "1280x720")
PRO_SIZES = (*SIZES, "1024x1792", "1792x1024")
_EXPIRES_AFTER = 3600  # seconds; relays keep assets 1-24 h
_STATUS: dict[str, dict[Phase, str]] = {
    "official": {
        Phase.PENDING: "queued",
        Phase.QUEUED: "queued",
        Phase.RUNNING: "in_progress",
        Phase.COMPLETED: "completed",
        Phase.FAILED: "failed",
    },
    "newapi": {
        Phase.PENDING: "SUBMITTED",
        Phase.QUEUED: "QUEUED",
        Phase.RUNNING: "IN_PROGRESS",
        Phase.COMPLETED: "SUCCESS",
        Phase.FAILED: "FAILURE",
    },
}


def _go_kind(value: Any) -> str:
    """The JSON kind as Go's decoder names it in new-api's ``invalid_json`` messages."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "object"


class VideosFormat:
    """Handlers of the ``videos`` format."""

    def __init__(self, state: SimState) -> None:
        self._s = state

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/videos", self.create)
        app.router.add_get("/v1/videos/{video_id}", self.retrieve)
        app.router.add_get("/v1/videos/{video_id}/content", self.content)
        app.router.add_post("/v1/videos/{video_id}/remix", self.remix)

    # ------------------------------------------------------------------ handlers

    async def create(self, request: web.Request) -> web.StreamResponse:
        fields = self._fields(self._s.record_of(request))
        if isinstance(fields, web.Response):
            return fields
        prompt, model = fields.get("prompt"), fields.get("model")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._error(400, "prompt is required", "invalid_request")
        if not isinstance(model, str) or not model:
            return self._error(400, "model is required", "missing_model")
        if not self._s.knows_model(model):
            return model_not_found(model, self._s.request_id())
        markers = parse_markers(prompt)
        refused = self._s.submit_fault(WireFormat.VIDEOS, model, markers)
        if refused is not None:
            return refused
        seconds, size = fields.get("seconds", "4"), fields.get("size", "720x1280")
        if seconds not in SECONDS:
            supported = ", ".join(SECONDS[:3])
            return self._error(
                400, f"Invalid seconds {seconds!r}: use {supported}", "invalid_value"
            )
        sizes = PRO_SIZES if is_pro(model) else SIZES
        if size not in sizes:
            return self._error(
                400, f"Invalid size {size}: supported sizes are {', '.join(sizes)}", "invalid_size"
            )
        width, height = (int(n) for n in str(size).split("x"))
        image = fields.get("input_reference")
        if image is not None:
            problem = self._check_reference(image, (width, height))
            if problem is not None:
                return problem
        job = self._s.new_job(
            job_id=self._s.ids.video_id(self._s.options.id_style, model),
            fmt=WireFormat.VIDEOS,
            model=model,
            markers=markers,
            seconds=int(str(seconds)),
            size=str(size),
            orientation=Orientation.PORTRAIT if height > width else Orientation.LANDSCAPE,
            picture=(width, height),
            image=image if isinstance(image, FilePart) else None,
        )
        return self._video_response(job, self._s.snapshot(job))

    async def retrieve(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        failure = self._s.transient("poll", WireFormat.VIDEOS, job)
        if failure is not None:
            return failure
        if job is None:
            return self._error(404, "task_not_exist", "task_not_exist")
        return self._video_response(job, await self._s.observe(job))

    async def content(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        failure = self._s.transient("content", WireFormat.VIDEOS, job)
        if failure is not None:
            return failure
        if job is None:
            return self._error(404, "task_not_exist", "task_not_exist")
        state = await self._s.observe(job)
        if state.phase is not Phase.COMPLETED:
            status = self._status(state)
            message = f"Task is not completed yet, current status: {status}"
            return self._error(400, message, "invalid_request")
        job.content_fetches += 1
        if Fault.EXPIRED in job.faults:
            message = "获取视频内容失败: upstream returned 404, the video has expired"
            return self._error(502, message, "video_expired")
        variant = request.query.get("variant", "video")
        if variant == "thumbnail":
            return web.Response(body=self._s.media.preview(job), content_type="image/webp")
        if variant != "video":
            return self._error(400, f"Invalid variant {variant!r}", "invalid_value")
        if Fault.JSON_CONTENT in job.faults:
            return web.json_response({"video_url": self._s.link(job, "mp4")})
        path = await self._s.media.video(job)
        filename = job.id.replace(":", "_") + ".mp4"
        return web.FileResponse(
            path,
            headers={
                "Content-Type": "video/mp4",
                "Content-Disposition": f'attachment; filename="{filename}"',
            },
        )

    async def remix(self, request: web.Request) -> web.StreamResponse:
        record = self._s.record_of(request)
        if record.body_error is not None or not isinstance(record.json, dict):
            return self._error(400, "invalid request body: expected a JSON object", "invalid_json")
        prompt = record.json.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return self._error(400, "prompt is required", "invalid_request")
        source = self._s.jobs.get(request.match_info["video_id"])
        markers = parse_markers(prompt)
        refused = self._s.submit_fault(WireFormat.VIDEOS, source.model if source else "", markers)
        if refused is not None:
            return refused
        if (
            source is None
            or source.format is not WireFormat.VIDEOS
            or self._s.snapshot(source).phase is not Phase.COMPLETED
        ):
            return self._error(400, "task_origin_not_exist", "task_origin_not_exist")
        job = self._s.new_job(
            job_id=self._s.ids.video_id(self._s.options.id_style, source.model),
            fmt=WireFormat.VIDEOS,
            model=source.model,
            markers=markers,
            seconds=source.seconds,
            size=source.size,
            orientation=source.orientation,
            picture=(source.width, source.height),
            remixed_from=source.id,
        )
        return self._video_response(job, self._s.snapshot(job))

    # ------------------------------------------------------------------ helpers

    def _fields(self, record: RecordedRequest) -> dict[str, Any] | web.Response:
        """The create fields from a JSON or multipart body, with new-api's type checks."""
        if record.form is not None:
            return dict(record.form)
        if record.body_error is not None or not isinstance(record.json, dict):
            return self._error(400, "invalid request body: expected a JSON object", "invalid_json")
        for name in ("model", "prompt", "seconds", "size"):
            value = record.json.get(name)
            if value is not None and not isinstance(value, str):
                message = (
                    f"json: cannot unmarshal {_go_kind(value)} into Go struct field "
                    f"VideoRequest.{name} of type string"
                )
                return self._error(400, message, "invalid_json")
        return dict(record.json)

    def _check_reference(self, image: Any, size: tuple[int, int]) -> web.Response | None:
        if not isinstance(image, FilePart):
            return self._error(400, "input_reference must be an uploaded file", "invalid_request")
        if image.image_size is None:
            message = "input_reference is not a supported image (JPEG, PNG or WebP)"
            return self._error(400, message, "invalid_image")
        if image.image_size != size:
            width, height = image.image_size
            message = (
                f"Inpaint image must match the requested width and height "
                f"(got {width}x{height}, expected {size[0]}x{size[1]})"
            )
            return self._error(400, message, "invalid_image_size")
        return None

    def _job(self, request: web.Request) -> SimJob | None:
        """The ``videos`` job the path names (a job of another format is not found here)."""
        job = self._s.jobs.get(request.match_info["video_id"])
        return job if job is not None and job.format is WireFormat.VIDEOS else None

    def _status(self, state: Snapshot) -> str:
        return _STATUS[self._s.options.status_style][state.phase]

    def _video_response(self, job: SimJob, state: Snapshot) -> web.Response:
        headers = {"openai-poll-after-ms": str(self._s.options.poll_after_ms)}
        newapi = self._s.options.status_style == "newapi"
        progress: int | str = f"{state.progress}%" if newapi else state.progress
        error = None
        if state.failure is not None:
            error = {"code": state.failure[0], "message": state.failure[1]}
        if state.phase is Phase.FAILED and Fault.MISSING_STATUS in job.faults:
            body: dict[str, Any] = {"id": job.id, "object": "video", "model": job.model}
            body |= {"progress": progress, "created_at": job.created_at, "error": error}
            return web.json_response(body, headers=headers)
        completed_at = None
        if state.phase is Phase.COMPLETED:
            completed_at = job.created_at + max(1, round(self._s.options.job_seconds))
        body = {
            "id": job.id,
            "object": "video",
            "model": job.model,
            "status": self._status(state),
            "progress": progress,
            "created_at": job.created_at,
            "completed_at": completed_at,
            "expires_at": completed_at + _EXPIRES_AFTER if completed_at else None,
            "seconds": str(job.seconds),
            "size": job.size,
            "remixed_from_video_id": job.remixed_from,
            "error": error,
        }
        return web.json_response(body, headers=headers)

    def _error(self, status: int, message: str, code: str) -> web.Response:
        return new_api_error(status, message, code, self._s.request_id())
