"""The ``chat`` wire format: one streamed ``POST /chat/completions`` per video.

The relay answers with an SSE stream of ``chat.completion.chunk`` events whose text is a
markdown progress log (task id, queue, progress, then the video link); upstream-api.md
§1.3 and seed 002 describe it. :mod:`bot.providers.sse` reads the stream leniently,
:mod:`bot.providers.chat_parser` reads the text. A continuation resends the whole
conversation: earlier prompts and the earlier assistant answers verbatim (they carry the
task id and ``sid`` the relay needs).

The stream is the only channel to the job: a cut stream cannot be picked up again
(``resumable = False``), and since no API here has an idempotency key the request is never
sent twice. A cut stream keeps the task id so the user can be told it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import mimetypes
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ErrorCategory, InvalidRequest, MediaError, ProviderError
from bot.media import download_video
from bot.models import (
    Accepted,
    ChatMessage,
    Completed,
    GenerationRequest,
    ImageInput,
    Progress,
    ProviderEvent,
    Queued,
)
from bot.providers.base import BaseProvider, RunState
from bot.providers.chat_parser import ChatState, TranscriptParser
from bot.providers.http import error_from_payload, error_from_response, transport_error
from bot.providers.polling import PollPolicy, fetch_finished, link_headers, resolve_link
from bot.providers.sse import iter_sse_json, iter_sse_lines

log = logging.getLogger(__name__)

# Gateways cut a stream after ~300 s of silence (upstream-api.md §1.3): wait a bit longer
# than that for the next byte, so it is their cut we see, not our own timeout.
READ_TIMEOUT_FLOOR = 330.0
LINK_DOWNLOAD_TIMEOUT = 300.0  # the whole download of the finished MP4
MAX_INLINE_IMAGE_BYTES = 4 * 1024 * 1024  # an attached file travels inline as a data URL
RATIO_PHRASE = "生成视频比例{ratio}"  # seed 000: the relay reads the ratio from the prompt
CUT_MESSAGE = "stream cut before the video was ready"


class _Delta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    content: str | None = None
    reasoning_content: str | None = None  # sora2api-style relays report progress here
    reasoning: str | None = None  # the same, as some gateways name it


class _Choice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delta: _Delta | None = None
    message: _Delta | None = None  # a relay answering one non-streamed completion
    finish_reason: str | None = None


class _Chunk(BaseModel):
    model_config = ConfigDict(extra="ignore")

    choices: list[_Choice] = []


def user_text(request: GenerationRequest, ratio: str) -> str:
    """The new user turn's text. A first request carries the ratio in words; a continuation
    sends the instruction alone (the conversation already fixes the ratio, seed 002)."""
    parent = request.parent
    if parent is None:
        return f"{request.prompt}\n\n{RATIO_PHRASE.format(ratio=ratio)}"
    if parent.history:
        return request.prompt
    # No conversation kept for the parent: start afresh from its prompt plus the change.
    return f"{parent.prompt}\n{request.prompt}\n\n{RATIO_PHRASE.format(ratio=ratio)}"


def build_messages(
    request: GenerationRequest, ratio: str, image_url: str | None = None
) -> list[dict[str, Any]]:
    """The ``messages`` array: the parent's history verbatim, then the new user turn
    (a text, or a text part plus an ``image_url`` part when an image goes along)."""
    history = request.parent.history if request.parent is not None else ()
    messages: list[dict[str, Any]] = [{"role": m.role, "content": m.content} for m in history]
    text = user_text(request, ratio)
    if image_url is None:
        messages.append({"role": "user", "content": text})
    else:
        parts = [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": image_url}},
        ]
        messages.append({"role": "user", "content": parts})
    return messages


def _conversation(sent: list[dict[str, Any]], answer: str) -> tuple[ChatMessage, ...]:
    """What a continuation of this job resends, verbatim: the messages just sent, then the
    answer. An image part is not kept (a data URL would bloat every later request); its
    text part is."""
    turns = []
    for message in sent:
        content = message["content"]
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
        turns.append(ChatMessage(role=message["role"], content=content))
    turns.append(ChatMessage(role="assistant", content=answer))
    return tuple(turns)


def _data_url(path: Path) -> str:
    """The file as ``data:<mime>;base64,…`` (blocking: run it in a thread)."""
    mime = mimetypes.guess_type(path.name)[0] or "image/jpeg"
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{mime};base64,{encoded}"


class _Answer:
    """The streamed answer so far: the assistant text and what the parsers read in it.

    Content and reasoning are parsed separately (a relay may interleave them, which would
    split a token of one with text of the other) and their states combined.
    """

    def __init__(self) -> None:
        self.content: list[str] = []
        self._content = TranscriptParser()
        self._reasoning = TranscriptParser()
        self._accepted = False
        self._queued = False
        self._progress = -1
        self.finish_reason: str | None = None
        self.finished = False  # the stream ended cleanly ([DONE] or end of body)
        self.cut = False  # the connection broke mid-answer

    @property
    def transcript(self) -> str:
        """The assistant content verbatim: what a continuation resends."""
        return "".join(self.content)

    def state(self, *, final: bool = False) -> ChatState:
        if final:
            return self._content.finish().combined_with(self._reasoning.finish())
        return self._content.state.combined_with(self._reasoning.state)

    def absorb(self, payload: Mapping[str, Any]) -> list[ProviderEvent]:
        """Take one SSE payload; return the events it makes news of."""
        if payload.get("error"):
            raise error_from_payload(payload, upstream_id=self.state().task_id)
        try:
            chunk = _Chunk.model_validate(payload)
        except ValidationError:
            log.warning("chat stream: skipped a chunk of unexpected shape")
            return []
        for choice in chunk.choices[:1]:
            self.finish_reason = (choice.finish_reason or self.finish_reason or "").lower() or None
            part = choice.delta or choice.message
            if part is None:
                continue
            thinking = part.reasoning_content or part.reasoning
            if thinking:
                self._reasoning.feed(thinking)
            if part.content:
                self.content.append(part.content)
                self._content.feed(part.content)
        return self._news(self.state())

    def _news(self, state: ChatState) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        if state.task_id and not self._accepted:
            self._accepted = True
            events.append(Accepted(state.task_id))
        if state.queued and not self._queued and state.progress is None:
            self._queued = True
            events.append(Queued())
        if state.progress is not None and state.progress > self._progress:
            self._progress = state.progress
            events.append(Progress(state.progress))
        return events


class ChatProvider(BaseProvider):
    """A relay speaking streamed chat completions; continuation by resending the history."""

    format = "chat"
    remix = True
    resumable = False

    def validate(self, request: GenerationRequest) -> None:
        """The shared checks, plus: an attached file must be small enough to go inline."""
        super().validate(request)
        image = request.image
        if image is not None and not image.url and image.path is not None:
            try:
                size = image.path.stat().st_size
            except OSError as exc:
                raise InvalidRequest("image_unreadable") from exc
            if size > MAX_INLINE_IMAGE_BYTES:
                raise InvalidRequest("image_too_large")

    async def _submit_and_follow(
        self, request: GenerationRequest, workdir: Path, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        ratio = self.capabilities.models[request.model].sizes[request.orientation]
        image_url = await self._image_url(request.image)
        body = {
            "model": request.model,
            "messages": build_messages(request, ratio, image_url),
            "stream": True,
        }
        answer = _Answer()
        async for event in self._stream(body, answer, run):
            yield event
        state = answer.state(final=True) if answer.finished else answer.state()
        if state.video_url:
            url = resolve_link(state.video_url, self.config.base_url)
            try:
                video = await fetch_finished(
                    lambda: download_video(
                        self.client,
                        url,
                        workdir,
                        headers=link_headers(url, self.config.base_url, self.headers()),
                        max_bytes=self.max_download_bytes,
                        timeout=LINK_DOWNLOAD_TIMEOUT,
                    ),
                    sleep=self._sleep,
                    policy=PollPolicy(interval=self.config.poll_interval),
                )
            except MediaError as exc:  # an MP4 by its header that will not decode
                raise ProviderError(
                    ErrorCategory.GENERATION_FAILED,
                    f"the relay's video cannot be read: {exc}",
                    upstream_id=state.task_id,
                ) from exc
            yield Completed(
                video,
                upstream_id=state.task_id,
                video_url=url,
                transcript=answer.transcript,
                conversation=_conversation(body["messages"], answer.transcript),
            )
            return
        if state.failure:
            raise error_from_payload({"message": state.failure}, upstream_id=state.task_id)
        if answer.finish_reason == "content_filter":  # OpenAI's own moderation verdict
            raise ProviderError(
                ErrorCategory.CONTENT_POLICY,
                "the relay's content filter stopped the answer",
                upstream_id=state.task_id,
            )
        message = CUT_MESSAGE if answer.cut else "the relay's answer ended without a video link"
        raise ProviderError(ErrorCategory.TRANSIENT, message, upstream_id=state.task_id)

    async def _stream(
        self, body: dict[str, Any], answer: _Answer, run: RunState
    ) -> AsyncIterator[ProviderEvent]:
        """Send the request once and read its stream into ``answer``, yielding the news.

        Sets ``answer.finished`` on a clean end, ``answer.cut`` when the connection broke
        after the answer had begun (what arrived until then is kept).
        """
        headers = {**self.headers(), "Accept": "text/event-stream"}
        timeout = httpx.Timeout(
            self.config.request_timeout,
            read=max(self.config.request_timeout, READ_TIMEOUT_FLOOR),
        )
        answering = False
        run.sent = True
        try:
            async with self.client.stream(
                "POST", self.url("chat/completions"), json=body, headers=headers, timeout=timeout
            ) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_from_response(response)
                answering = True
                lines = iter_sse_lines(response.aiter_text())
                async for payload in iter_sse_json(lines):
                    for event in answer.absorb(payload):
                        yield event
        except httpx.HTTPError as exc:
            if not answering:
                reason = transport_error(exc, "POST /chat/completions").message
                raise ProviderError(
                    ErrorCategory.TRANSIENT,
                    f"{reason}; not resent, the relay may have accepted it",
                ) from exc
            log.info("chat stream cut (%s) mid-answer", type(exc).__name__)
            answer.cut = True
            return
        answer.finished = True

    async def _image_url(self, image: ImageInput | None) -> str | None:
        """A public URL as is; otherwise the attached file inline as a data URL."""
        if image is None:
            return None
        if image.url:
            return image.url
        if image.path is None:
            return None
        try:
            return await asyncio.to_thread(_data_url, image.path)
        except OSError as exc:
            raise ProviderError(
                ErrorCategory.BAD_REQUEST, "the attached image could not be read"
            ) from exc
