"""What the format handlers share: options, clock, jobs, faults, media and links."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from bot.models import Orientation, WireFormat
from bot.providers.simulator.faults import Fault, FaultBook, FaultPoint, Markers
from bot.providers.simulator.jobs import FilePart, Phase, SimJob, Snapshot, snapshot
from bot.providers.simulator.media import MediaStore
from bot.providers.simulator.recording import RecordedRequest
from bot.providers.simulator.wire import Ids, fault_answer

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
IdStyle = Literal["video", "task", "colon"]
StatusStyle = Literal["official", "newapi"]
LinkKind = Literal["video", "mp4", "preview", "data"]


@dataclass(frozen=True, slots=True)
class SimOptions:
    api_key: str
    models: tuple[str, ...]
    job_seconds: float
    poll_after_ms: int
    chat_variant: Literal["A", "B"]
    id_style: IdStyle
    status_style: StatusStyle
    retry_after: int


def is_pro(model: str) -> bool:
    """Relays sell a "pro" tier with larger sizes (upstream-api.md §1.1, §1.2)."""
    return model.endswith("-pro")


class SimState:
    """The simulator's memory, handed to every handler."""

    def __init__(
        self, options: SimOptions, *, clock: Clock, sleep: Sleep, media: MediaStore, ids: Ids
    ) -> None:
        self.options = options
        self.clock = clock
        self.sleep = sleep
        self.media = media
        self.ids = ids
        self.faults = FaultBook()
        self.jobs: dict[str, SimJob] = {}
        self.requests: list[RecordedRequest] = []
        self.origin = ""  # "http://127.0.0.1:<port>", known once the server listens
        self.closing = asyncio.Event()
        self._by_token: dict[str, SimJob] = {}
        self._live: dict[int, RecordedRequest] = {}  # requests being handled, by id()

    # ------------------------------------------------------------------ requests

    def begin(self, request: web.Request, record: RecordedRequest) -> None:
        """Keep ``record`` for the handlers of ``request`` until ``end`` (and forever in
        ``requests``). Stored here, not on the request, to work with aiohttp before 3.14."""
        self.requests.append(record)
        self._live[id(request)] = record

    def end(self, request: web.Request) -> None:
        self._live.pop(id(request), None)

    def record_of(self, request: web.Request) -> RecordedRequest:
        """What the middleware recorded (and parsed) for the request being handled."""
        return self._live[id(request)]

    # ------------------------------------------------------------------ jobs

    def knows_model(self, model: str) -> bool:
        return model in self.options.models

    def snapshot(self, job: SimJob) -> Snapshot:
        return snapshot(job, self.clock(), self.options.job_seconds)

    async def observe(self, job: SimJob) -> Snapshot:
        """The job's state; a finished job's MP4 exists before anyone is told it finished."""
        state = self.snapshot(job)
        if state.phase is Phase.COMPLETED:
            await self.media.video(job)
        return state

    def new_job(
        self,
        *,
        job_id: str,
        fmt: WireFormat,
        model: str,
        markers: Markers,
        seconds: int,
        size: str,
        orientation: Orientation,
        picture: tuple[int, int],
        remixed_from: str | None = None,
        image: FilePart | str | None = None,
        images: tuple[str, ...] = (),
        parent_sid: str | None = None,
    ) -> SimJob:
        """Accept a job: it takes the job faults due for its format plus its prompt's markers."""
        faults = self.faults.take_job_faults(fmt) | markers.job_faults
        job = SimJob(
            id=job_id,
            format=fmt,
            model=model,
            prompt=markers.prompt,
            seconds=seconds,
            size=size,
            orientation=orientation,
            width=picture[0],
            height=picture[1],
            started=self.clock(),
            created_at=int(time.time()),
            faults=faults,
            file_token=self.ids.token(),
            remixed_from=remixed_from,
            sid=self.ids.sid() if fmt is WireFormat.CHAT else None,
            parent_sid=parent_sid,
            image=image,
            images=images,
        )
        for fault, point in markers.later_errors:
            self.faults.arm_for_job(job.id, fault, point)
        self.jobs[job.id] = job
        self._by_token[job.file_token] = job
        return job

    def job_by_token(self, token: str) -> SimJob | None:
        return self._by_token.get(token)

    def job_by_sid(self, sid: str) -> SimJob | None:
        return next((job for job in self.jobs.values() if job.sid == sid), None)

    def epoch_ms(self, job: SimJob, elapsed: float) -> int:
        return int(job.created_at * 1000 + elapsed * 1000)

    # ------------------------------------------------------------------ faults and links

    def submit_fault(
        self, fmt: WireFormat, model: str, markers: Markers | None
    ) -> web.Response | None:
        """The error answer for this create request, if a marker or an injection asks for one."""
        fault = markers.submit_error if markers is not None else None
        fault = fault or self.faults.take_error("submit", fmt)
        if fault is None:
            return None
        return self._answer(fault, fmt, "submit", model)

    def transient(
        self, point: FaultPoint, fmt: WireFormat, job: SimJob | None
    ) -> web.Response | None:
        """A 429 or proxy 502 due on this poll or download, if any."""
        fault = self.faults.take_error(point, fmt, job.id if job is not None else None)
        if fault is None:
            return None
        return self._answer(fault, fmt, point, job.model if job is not None else "")

    def _answer(self, fault: Fault, fmt: WireFormat, point: FaultPoint, model: str) -> web.Response:
        return fault_answer(
            fault, fmt, point, model=model, ids=self.ids, retry_after=self.options.retry_after
        )

    def link(self, job: SimJob, kind: LinkKind) -> str:
        """A public file link (no auth), named by the job's file token, never its id."""
        base = f"{self.origin}/files/{job.file_token}"
        if kind == "video":
            return f"{base}?video-file=1"  # like seed 002: the link need not end in .mp4
        suffix = {"mp4": ".mp4", "preview": ".webp", "data": ".json"}[kind]
        return base + suffix

    def request_id(self) -> str:
        return self.ids.request_id()
