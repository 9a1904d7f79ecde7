"""The fake Discord REST API (``/api/v10``): the plumbing every route shares.

Answers the way discord.py needs them: JSON with ``Content-Type`` exactly
``application/json``, ``X-RateLimit-*`` headers on success, a 429 with ``Via`` and
``retry_after`` when a channel's message budget (creates + edits, measured on the injected
clock) is spent, and Discord's JSON error codes. Every request is recorded in
``state.requests``. The routes themselves live in ``discord_fake_channels`` (bot token
routes), ``discord_fake_commands`` and ``discord_fake_webhooks``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from tests.discord_fake_gateway import FakeGateway
from tests.discord_fake_model import FakeChannel
from tests.discord_fake_records import FakeMessage, RequestRecord, UploadedFile
from tests.discord_fake_rules import ApiError
from tests.discord_fake_state import DiscordState

API = "/api/v10"
RECORD = web.RequestKey("record", RequestRecord)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with ``Content-Type: application/json`` and no charset (discord.py compares it)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(data).encode(), headers=all_headers)


def no_content(headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=204, headers=headers or {})


class FakeRest:
    """Request plumbing: recording, bodies, auth, rate-limit headers and budgets, checks."""

    def __init__(
        self,
        state: DiscordState,
        gateway: FakeGateway,
        *,
        shard_count: int,
        message_budget: tuple[int, float],
        time_scale: float,
        count_webhook_edits: bool,
        old_message_age: float,
    ) -> None:
        self.state = state
        self.gateway = gateway
        self.shard_count = shard_count
        self.message_budget = message_budget
        self.time_scale = time_scale
        self.count_webhook_edits = count_webhook_edits
        self.old_message_age = old_message_age
        self.rate_limited = 0
        self.rate_limited_by_channel: Counter[int] = Counter()
        self.invalid_requests = 0  # 401/403/429 answers: Discord bans at 10,000 per 10 min
        self._spent: dict[int, deque[float]] = defaultdict(deque)

    # ------------------------------------------------------------------ plumbing

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Turn ``ApiError`` into Discord's JSON error and record every request."""
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        record = RequestRecord(
            request.method,
            request.path.removeprefix(API),
            f"{request.method} {template.removeprefix(API)}",
            dict(request.query),
            at=self.state.clock(),
        )
        request[RECORD] = record
        try:
            response = await handler(request)
        except ApiError as error:
            record.code = error.code
            response = json_response(error.payload(), status=error.status, headers=error.headers)
        except web.HTTPNotFound:
            record.code = 0
            response = json_response({"message": "404: Not Found", "code": 0}, status=404)
        record.status = response.status
        if response.status in (401, 403, 429):
            self.invalid_requests += 1
        self.state.requests.append(record)
        self.state.notify()
        return response

    async def read_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        """JSON body, or multipart ``payload_json`` + ``files[n]``; recorded either way."""
        payload: Any = None
        files: list[UploadedFile] = []
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                data = await part.read()
                name = part.name or ""
                if name == "payload_json":
                    payload = json.loads(data)
                elif part.filename is not None:
                    content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
                    files.append(UploadedFile(name, part.filename, content_type, bytes(data)))
        elif request.body_exists:
            raw = await request.read()
            payload = json.loads(raw) if raw else None
        record: RequestRecord = request[RECORD]
        record.json, record.files = payload, files
        return payload, files

    def authorize(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.state.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    def headers(
        self, bucket: str, *, limit: int = 50, remaining: int = 49, reset_after: float = 1.0
    ) -> dict[str, str]:
        """Rate-limit headers as Discord sends them, waits scaled by ``time_scale``."""
        advertised = max(reset_after * self.time_scale, 0.001)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(remaining, 0)),
            "X-RateLimit-Reset": f"{time.time() + advertised:.3f}",
            "X-RateLimit-Reset-After": f"{advertised:.3f}",
            "X-RateLimit-Bucket": hashlib.md5(bucket.encode()).hexdigest()[:16],
        }

    def spend(self, channel_id: int, bucket: str) -> dict[str, str]:
        """Take one message create/edit from the channel budget, or answer 429."""
        limit, window = self.message_budget
        now = self.state.clock()
        spent = self._spent[channel_id]
        while spent and spent[0] <= now - window:
            spent.popleft()
        if len(spent) >= limit:
            retry_after = max((spent[0] + window - now) * self.time_scale, 0.001)
            self.rate_limited += 1
            self.rate_limited_by_channel[channel_id] += 1
            headers = self.headers(
                bucket, limit=limit, remaining=0, reset_after=spent[0] + window - now
            )
            headers.update(
                {
                    "Retry-After": str(math.ceil(retry_after)),
                    "X-RateLimit-Scope": "user",
                    "Via": "1.1 google",
                }
            )
            body = {
                "message": "You are being rate limited.",
                "retry_after": round(retry_after, 3),
                "global": False,
            }
            raise ApiError(429, 0, "You are being rate limited.", headers=headers, body=body)
        spent.append(now)
        return self.headers(
            bucket, limit=limit, remaining=limit - len(spent), reset_after=spent[0] + window - now
        )

    def check_upload(self, channel: FakeChannel, files: list[UploadedFile]) -> None:
        """413 / 40005 once the whole body is in, if any file exceeds the guild's limit."""
        limit = self.state.guilds[channel.guild_id].filesize_limit
        if any(len(upload.data) > limit for upload in files):
            raise ApiError(413, 40005, "Request entity too large")

    def check_edit_age(self, message: FakeMessage) -> None:
        if self.state.clock() - message.created_at > self.old_message_age:
            raise ApiError(
                400,
                30046,
                "Maximum number of edits to messages older than 1 hour reached. Try again later.",
            )

    def message_response(self, message: FakeMessage, headers: dict[str, str]) -> web.Response:
        return json_response(self.state.message_payload(message), headers=headers)
