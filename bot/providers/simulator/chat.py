"""The ``chat`` format (upstream-api.md §1.3): ``POST /v1/chat/completions`` with a stream.

The request is an ordinary chat completion: the orientation is written in the prompt
text, an image comes as an ``image_url`` part, and a continuation resends the history (the
earlier assistant answer carries its ``sid``). The answer is an SSE progress log, written
by :mod:`bot.providers.simulator.chat_stream`.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.models import Orientation, WireFormat
from bot.providers.simulator.chat_stream import ChatStream
from bot.providers.simulator.faults import parse_markers
from bot.providers.simulator.jobs import FilePart
from bot.providers.simulator.recording import describe_image_url
from bot.providers.simulator.state import SimState, is_pro
from bot.providers.simulator.wire import model_not_found, new_api_error

_PORTRAIT = re.compile(r"9\s*[:：]\s*16|竖屏|竖版|portrait|vertical", re.IGNORECASE)
_LANDSCAPE = re.compile(r"16\s*[:：]\s*9|横屏|横版|landscape|horizontal", re.IGNORECASE)
_SID = re.compile(r"\bs_[0-9a-f]{32}\b")
_MODEL_SECONDS = re.compile(r"(\d+)s\b")


def orientation_from_text(text: str) -> Orientation:
    """The first orientation the text names (9:16, 竖屏, portrait…); portrait if none."""
    portrait, landscape = _PORTRAIT.search(text), _LANDSCAPE.search(text)
    if landscape and (not portrait or landscape.start() < portrait.start()):
        return Orientation.LANDSCAPE
    return Orientation.PORTRAIT


def seconds_for_model(model: str) -> int:
    """Chat relays fix the duration per model: ``…-15s-chat`` → 15, pro → 15, else 10."""
    match = _MODEL_SECONDS.search(model)
    if match:
        return int(match.group(1))
    return 15 if is_pro(model) else 10


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
        return "\n".join(str(p) for p in parts)
    return ""


def _image_of(content: Any) -> FilePart | str | None:
    if not isinstance(content, list):
        return None
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            ref = part.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
            if isinstance(url, str) and url:
                return describe_image_url(url)
    return None


def parent_sid(history: list[Any]) -> str | None:
    """The ``sid`` of the latest earlier assistant answer, which a continuation builds on."""
    for message in reversed(history):
        if isinstance(message, dict) and message.get("role") == "assistant":
            found = _SID.findall(_text_of(message.get("content")))
            if found:
                return str(found[-1])
    return None


class ChatFormat:
    """Handler of the ``chat`` format."""

    def __init__(self, state: SimState) -> None:
        self._s = state

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self.complete)

    async def complete(self, request: web.Request) -> web.StreamResponse:
        record = self._s.record_of(request)
        body = record.json
        if record.body_error is not None or not isinstance(body, dict):
            return self._error(400, "invalid request body: expected a JSON object", "invalid_json")
        model, messages = body.get("model"), body.get("messages")
        if not isinstance(model, str) or not model:
            return self._error(400, "model is required", "missing_model")
        if not self._s.knows_model(model):
            return model_not_found(model, self._s.request_id())
        if not isinstance(messages, list) or not messages or not isinstance(messages[-1], dict):
            return self._error(400, "messages must be a non-empty array", "invalid_request")
        last = messages[-1]
        prompt = _text_of(last.get("content"))
        if last.get("role") != "user" or not prompt.strip():
            return self._error(400, "the last message must be a user prompt", "invalid_request")
        if body.get("stream") is not True:
            return self._error(400, "该模型仅支持流式输出，请设置 stream: true", "invalid_request")
        markers = parse_markers(prompt)
        refused = self._s.submit_fault(WireFormat.CHAT, model, markers)
        if refused is not None:
            return refused
        orientation = orientation_from_text(f"{model} {markers.prompt}")
        sid = parent_sid(messages[:-1])
        parent = self._s.job_by_sid(sid) if sid else None
        job = self._s.new_job(
            job_id=f"task_{self._s.ids.ulid()}",
            fmt=WireFormat.CHAT,
            model=model,
            markers=markers,
            seconds=seconds_for_model(model),
            size="9:16" if orientation is Orientation.PORTRAIT else "16:9",
            orientation=orientation,
            picture=(720, 1280) if orientation is Orientation.PORTRAIT else (1280, 720),
            remixed_from=parent.id if parent else None,
            image=_image_of(last.get("content")),
            parent_sid=sid,
        )
        return await ChatStream(self._s, job).run(request)

    def _error(self, status: int, message: str, code: str) -> web.Response:
        return new_api_error(
            status, message, code, self._s.request_id(), error_type="invalid_request_error"
        )
