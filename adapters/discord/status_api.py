"""Status messages through the bot's own channel route, one attempt per call.

Why not ``channel.send`` / ``PartialMessage.edit``: discord.py answers a 429 by sleeping and
retrying (up to five times) inside the call. For progress edits that is the wrong reflex —
the chat's ``StatusBoard`` must *hear* the 429 to push the whole channel back, a stale
progress text is worth dropping rather than waiting for, and every 401/403/429 counts
towards Discord's 10,000-per-10-minutes ban
(https://discord.com/developers/docs/topics/rate-limits#invalid-request-limit). So the
three status calls (post, edit, delete) go out once, with mentions disabled, and their
answers map onto the core's errors here:

- 429 → ``PlatformRateLimited`` (``retry_after`` from the body, else the header);
- 404 (10003 unknown channel, 10008 unknown message) and 403 (50001 missing access, 50013
  missing permissions) → ``MessageGone``: the job carries on without its status;
- 400 with code 30046 (too many edits to a message older than an hour) → ``StatusTooOld``,
  which the outbox answers with a fresh status message.

Everything else on the bot (uploads, answers, commands) goes through discord.py. The base
URL is read from ``discord.http.Route.BASE`` at each call, like discord.py itself does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
import discord

from bot.errors import MessageGone, PlatformError, PlatformRateLimited

GONE_CODES: Final = frozenset({10003, 10008, 50001, 50013})
TOO_OLD_CODE: Final = 30046
NO_MENTIONS: Final[Mapping[str, object]] = {"parse": [], "replied_user": False}
REQUEST_TIMEOUT: Final = 20.0


class StatusTooOld(PlatformError):
    """Discord refuses further edits of this message (older than an hour): post a new one."""


class StatusRoute:
    """``POST``/``PATCH``/``DELETE /channels/{channel}/messages[/{message}]``, once each."""

    def __init__(self, token: str, user_agent: str) -> None:
        self._headers = {"Authorization": f"Bot {token}", "User-Agent": user_agent}
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, channel_id: str, content: str, *, reply_to: str | None) -> str:
        """Send ``content`` as a new message; returns its id."""
        payload: dict[str, Any] = {"content": content, "allowed_mentions": NO_MENTIONS}
        if reply_to is not None:
            payload["message_reference"] = {
                "message_id": reply_to,
                "channel_id": channel_id,
                "fail_if_not_exists": False,  # the request may have been deleted meanwhile
            }
        data = await self._call("POST", f"/channels/{channel_id}/messages", payload)
        return str(data["id"])

    async def edit(self, channel_id: str, message_id: str, content: str) -> None:
        payload = {"content": content, "allowed_mentions": NO_MENTIONS}
        await self._call("PATCH", f"/channels/{channel_id}/messages/{message_id}", payload)

    async def delete(self, channel_id: str, message_id: str) -> None:
        await self._call("DELETE", f"/channels/{channel_id}/messages/{message_id}", None)

    async def _call(self, method: str, path: str, payload: Mapping[str, object] | None) -> Any:
        if self._session is None:
            raise PlatformError("the Discord status route is not open")
        url = discord.http.Route.BASE + path
        headers = dict(self._headers)
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload)
        try:
            async with self._session.request(method, url, data=body, headers=headers) as response:
                text = await response.text()
                status, retry_header = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformError(f"Discord is unreachable ({type(exc).__name__})") from exc
        data = _json(text)
        if 200 <= status < 300:
            return data
        raise _error(status, data, retry_header)


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def _error(status: int, data: Any, retry_header: str | None) -> PlatformError:
    body = data if isinstance(data, dict) else {}
    code = body.get("code")
    message = str(body.get("message") or f"HTTP {status}")
    if status == 429:
        retry_after = body.get("retry_after") or retry_header or 1.0
        return PlatformRateLimited(float(retry_after))
    if code == TOO_OLD_CODE:
        return StatusTooOld(message)
    if status in (403, 404) or code in GONE_CODES:
        return MessageGone(f"{message} (code {code})")
    return PlatformError(f"Discord refused a status call: {message} (HTTP {status}, code {code})")
