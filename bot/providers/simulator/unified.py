"""The ``unified`` format (upstream-api.md §1.2): ``/v1/video/create`` and ``/v1/video/query``.

Ids look like ``<model>:task_<26 alnum>`` (with a ``:``, so clients must URL-encode them),
``duration`` is an INTEGER, ``progress`` comes back as a STRING, ``status_update_time`` is
in milliseconds and ``created_at`` in seconds. Errors use the task endpoints' envelope.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.models import Orientation, WireFormat
from bot.providers.simulator.faults import parse_markers
from bot.providers.simulator.jobs import Phase
from bot.providers.simulator.recording import describe_image_url
from bot.providers.simulator.state import SimState, is_pro
from bot.providers.simulator.wire import model_not_found, task_error

DURATIONS = (10, 15)
_PICTURES = {"small": (720, 1280), "large": (1080, 1920)}  # portrait; landscape swaps


class UnifiedFormat:
    """Handlers of the ``unified`` format."""

    def __init__(self, state: SimState) -> None:
        self._s = state

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/video/create", self.create)
        app.router.add_get("/v1/video/query", self.query)

    async def create(self, request: web.Request) -> web.StreamResponse:
        record = self._s.record_of(request)
        body = record.json
        if record.body_error is not None or not isinstance(body, dict):
            return task_error(400, "invalid_request", "请求体必须是 JSON 对象")
        if "images" not in body:
            return task_error(400, "invalid_request", "images is required (use [] for text)")
        images = body["images"]
        if not isinstance(images, list) or not all(isinstance(url, str) for url in images):
            return task_error(
                400, "invalid_request", self._unmarshal("array", "images", "[]string")
            )
        model, prompt = body.get("model"), body.get("prompt")
        if not isinstance(model, str) or not model:
            return task_error(400, "missing_model", "model is required")
        if not self._s.knows_model(model):
            return model_not_found(model, self._s.request_id())
        if not isinstance(prompt, str) or not prompt.strip():
            return task_error(400, "invalid_request", "prompt is required")
        markers = parse_markers(prompt)
        refused = self._s.submit_fault(WireFormat.UNIFIED, model, markers)
        if refused is not None:
            return refused
        problem = self._check(body, model)
        if problem is not None:
            return problem
        orientation = Orientation(body["orientation"])
        width, height = _PICTURES[body["size"]]
        if orientation is Orientation.LANDSCAPE:
            width, height = height, width
        job = self._s.new_job(
            job_id=f"{model}:task_{self._s.ids.ulid()}",
            fmt=WireFormat.UNIFIED,
            model=model,
            markers=markers,
            seconds=body["duration"],
            size=body["size"],
            orientation=orientation,
            picture=(width, height),
            image=describe_image_url(images[0]) if images else None,
            images=tuple(images),
        )
        return web.json_response(
            {"id": job.id, "status": "pending", "status_update_time": self._s.epoch_ms(job, 0.0)}
        )

    async def query(self, request: web.Request) -> web.StreamResponse:
        job_id = request.query.get("id", "")
        if not job_id:
            return task_error(400, "invalid_request", "id is required")
        job = self._s.jobs.get(job_id)
        failure = self._s.transient("poll", WireFormat.UNIFIED, job)
        if failure is not None:
            return failure
        if job is None or job.format is not WireFormat.UNIFIED:
            return task_error(404, "task_not_exist", "task not exist")
        state = await self._s.observe(job)
        status = "processing" if state.phase is Phase.RUNNING else state.phase.value
        done = state.phase is Phase.COMPLETED
        answer: dict[str, Any] = {
            "id": job.id,
            "model": job.model,
            "status": status,
            "progress": str(state.progress),
            "video_url": self._s.link(job, "mp4") if done else None,
            "thumbnail_url": self._s.link(job, "preview") if done else None,
            "orientation": job.orientation.value,
            "size": job.size,
            "duration": job.seconds,
            "status_update_time": self._s.epoch_ms(job, state.elapsed),
            "created_at": job.created_at,
        }
        if state.failure is not None:
            code, message = state.failure
            answer |= {"fail_reason": message, "error": {"code": code, "message": message}}
        return web.json_response(answer)

    def _check(self, body: dict[str, Any], model: str) -> web.Response | None:
        """Field checks after the model is known: orientation, size and an INTEGER duration."""
        orientation, size, duration = (
            body.get("orientation"),
            body.get("size"),
            body.get("duration"),
        )
        if orientation not in ("portrait", "landscape"):
            return task_error(400, "invalid_request", "orientation must be portrait or landscape")
        allowed = ("large",) if is_pro(model) else ("small", "large")
        if size not in allowed:
            message = f"size {size!r} is not supported by {model}: use {' or '.join(allowed)}"
            return task_error(400, "invalid_request", message)
        if isinstance(duration, str):
            return task_error(400, "invalid_request", self._unmarshal("string", "duration", "int"))
        if isinstance(duration, bool) or duration not in DURATIONS:
            choices = " or ".join(str(d) for d in DURATIONS)
            return task_error(400, "invalid_request", f"duration must be {choices} (seconds)")
        return None

    @staticmethod
    def _unmarshal(kind: str, field: str, go_type: str) -> str:
        where = f"Go struct field VideoCreateRequest.{field}"
        return f"json: cannot unmarshal {kind} into {where} of type {go_type}"
