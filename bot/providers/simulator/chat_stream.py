"""The chat format's answer: an SSE stream of ``chat.completion.chunk`` events.

Variant A copies seed 002 (most relays, new-api in front): a JSON block, then a markdown
progress log in ``delta.content``::

    > ID: `task_…`  > 排队中...  > 生成中.  >🏃 进度 36..44..  > 生成完成 ✅  > sid: s_…
    [预览图](….webp)  [视频文件](…?video-file=1)

Variant B copies the open-source sora2api: progress in ``reasoning_content`` as
``**Video Generation Progress**: 40% (processing)``, the result as ``<video src='…'>``,
a failure as ``❌ 生成失败: <reason>``, ``finish_reason`` "STOP".

Text is cut into 3-12 character chunks (so ids, URLs and numbers are split across
events, as on the real wire), ``: PING`` comments fill the waits, ``data: [DONE]`` ends.
The stream follows the simulator clock and sleeps ``job_seconds / 25`` between looks.
"""

from __future__ import annotations

import json
import random
import string
import time
from typing import Any, Literal

from aiohttp import web

from bot.providers.simulator.faults import Fault
from bot.providers.simulator.jobs import Phase, SimJob, Snapshot
from bot.providers.simulator.state import SimState

_TICKS_PER_JOB = 25
_WAITING = (Phase.PENDING, Phase.QUEUED)
_QUEUE_DOTS = 6
_PROGRESS_STEP_A = 7
_PROGRESS_STEP_B = 10


class _Closing(Exception):
    """The simulator is stopping: end the stream where it stands."""


class ChatStream:
    """Writes one job's stream; ``run`` returns once the stream has ended."""

    def __init__(self, state: SimState, job: SimJob) -> None:
        self._s = state
        self._job = job
        self._rng = random.Random(job.seed)
        self._variant = state.options.chat_variant
        self._tick = max(state.options.job_seconds / _TICKS_PER_JOB, 0.001)
        alnum = string.ascii_letters + string.digits
        self._completion_id = "chatcmpl-" + "".join(self._rng.choice(alnum) for _ in range(29))
        self._response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        self._first_b_event = True

    async def run(self, request: web.Request) -> web.StreamResponse:
        await self._response.prepare(request)
        try:
            if self._variant == "B":
                await self._script_b()
            else:
                await self._script_a()
        except (_Closing, ConnectionResetError):
            pass  # the simulator stops, or the client hung up: the stream just ends
        return self._response

    # ------------------------------------------------------------------ the two scripts

    async def _script_a(self) -> None:
        job = self._job
        await self._event({"role": "assistant", "content": ""})
        block: dict[str, Any] = {"prompt": job.prompt, "orientation": job.orientation.value}
        block["duration"] = job.seconds
        if job.parent_sid:
            block["sid"] = job.parent_sid
        await self._text("```json\n" + json.dumps(block, ensure_ascii=False, indent=2) + "\n```")
        await self._event({})
        data = self._s.link(job, "data")
        await self._text(
            f"\n\n> ID: `{job.id}`\n>[数据预览]({data}) | [原始数据]({data}?raw=1)\n> 排队中"
        )
        if Fault.CUT_STREAM in job.faults:
            return
        state, dots = await self._wait(), 0
        while state.phase in _WAITING:
            if dots < _QUEUE_DOTS:
                await self._text(".")
                dots += 1
            else:
                await self._ping()
            state = await self._wait()
        await self._text("\n> 生成中.")
        if Fault.ERROR_IN_STREAM in job.faults:
            return await self._stream_error()
        shown = -_PROGRESS_STEP_A
        while state.phase is Phase.RUNNING:
            if state.progress - shown >= _PROGRESS_STEP_A:
                prefix = "\n\n>🏃 进度 " if shown < 0 else ""
                await self._text(f"{prefix}{state.progress}..")
                shown = state.progress
            else:
                await self._ping()
            state = await self._wait()
        if state.failure is not None:
            await self._text(f"\n\n> ❌ 生成失败: {state.failure[1]}")
        else:
            await self._s.media.video(job)
            preview, video = self._s.link(job, "preview"), self._s.link(job, "video")
            await self._text(
                f"\n\n> 生成完成 ✅\n> sid: {job.sid}\n\n[预览图]({preview})\n[视频文件]({video})"
            )
        await self._event({}, finish_reason="stop")
        await self._done()

    async def _script_b(self) -> None:
        job = self._job
        if job.image is not None:
            await self._reason("**Image Upload Begins**\n\nUploading image to server...\n")
            await self._reason("Image uploaded successfully. Proceeding to generation...\n")
        await self._reason("**Generation Process Begins**\n\nInitializing generation request...\n")
        if Fault.CUT_STREAM in job.faults:
            return
        state, shown = await self._wait(), -_PROGRESS_STEP_B
        while state.phase in (*_WAITING, Phase.RUNNING):
            if state.phase is Phase.RUNNING and Fault.ERROR_IN_STREAM in job.faults:
                return await self._stream_error()
            if state.progress - shown >= _PROGRESS_STEP_B:
                status = "processing" if state.phase is Phase.RUNNING else "queued"
                line = f"**Video Generation Progress**: {state.progress}% ({status})\n"
                await self._reason(line)
                shown = state.progress
            else:
                await self._ping()
            state = await self._wait()
        if Fault.ERROR_IN_STREAM in job.faults:
            return await self._stream_error()
        if state.failure is not None:
            await self._text(f"❌ 生成失败: {state.failure[1]}")
        else:
            await self._s.media.video(job)
            await self._reason(
                "**Video Generation Completed**\n\nVideo generation successful. "
                "Now caching the video file...\n"
            )
            mp4 = self._s.link(job, "mp4")
            await self._text(f"```html\n<video src='{mp4}' controls></video>\n```")
        await self._event({}, finish_reason="STOP")
        await self._done()

    async def _stream_error(self) -> None:
        """An error inside the HTTP 200 stream, as each relay family writes it, then [DONE]."""
        if self._variant == "B":
            error: dict[str, Any] = {
                "message": "Upstream task failed: video generation failed",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        else:
            rid = self._s.request_id()
            error = {
                "message": f"视频生成失败: upstream task failed (request id: {rid})",
                "type": "upstream_error",
                "code": "video_generation_failed",
            }
        await self._send("data: " + json.dumps({"error": error}, ensure_ascii=False) + "\n\n")
        await self._done()

    # ------------------------------------------------------------------ writing

    async def _wait(self) -> Snapshot:
        await self._s.sleep(self._tick)
        if self._s.closing.is_set():
            raise _Closing
        return self._s.snapshot(self._job)

    async def _text(
        self, text: str, field: Literal["content", "reasoning_content"] = "content"
    ) -> None:
        """Send ``text`` in 3-12 character pieces, one event each."""
        start = 0
        while start < len(text):
            size = self._rng.randint(3, 12)
            piece = text[start : start + size]
            start += size
            await self._event({field: piece})

    async def _reason(self, text: str) -> None:
        await self._text(text, "reasoning_content")

    async def _event(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        if self._variant == "B":
            payload = self._event_b(delta, finish_reason)
            await self._send(f"data: {json.dumps(payload)}\n\n")  # sora2api: ASCII escapes
            return
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        payload = {
            "id": self._completion_id,
            "object": "chat.completion.chunk",
            "created": self._job.created_at,
            "model": self._job.model,
            "choices": [choice],
        }
        await self._send(
            f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"
        )

    def _event_b(self, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        """sora2api's chunk: every delta field present (null when unused), a usage block."""
        full: dict[str, Any] = {"role": "assistant"} if self._first_b_event else {}
        self._first_b_event = False
        full |= {
            "content": delta.get("content"),
            "reasoning_content": delta.get("reasoning_content"),
            "tool_calls": None,
        }
        usage: dict[str, int] = {"prompt_tokens": 0}
        if finish_reason:
            usage |= {"completion_tokens": 1, "total_tokens": 1}
        now = time.time()
        return {
            "id": f"chatcmpl-{int(now * 1000)}",
            "object": "chat.completion.chunk",
            "created": int(now),
            "model": self._job.model,
            "choices": [
                {
                    "index": 0,
                    "delta": full,
                    "finish_reason": finish_reason,
                    "native_finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }

    async def _ping(self) -> None:
        await self._send(": PING\n\n")

    async def _done(self) -> None:
        await self._send("data: [DONE]\n\n")

    async def _send(self, text: str) -> None:
        await self._response.write(text.encode("utf-8"))
