"""The fake Discord gateway: a websocket speaking the v10 JSON protocol as discord.py uses it.

HELLO → IDENTIFY → READY + one GUILD_CREATE per guild of the shard; HEARTBEAT → ACK;
RESUME → replay of the missed dispatches + RESUMED; REQUEST_GUILD_MEMBERS → one chunk.
``compress=zlib-stream`` in the URL (what discord.py asks for without zstandard) is
honoured with one zlib stream per connection, flushed with Z_SYNC_FLUSH per frame.
Every dispatch is kept per session so a client that lost its socket can RESUME and still
receive what was sent meanwhile; ``drop`` closes sockets to test exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.discord_fake_model import PRIVILEGED_INTENTS, Intent, Json
from tests.discord_fake_records import FakeMessage
from tests.discord_fake_render import guild_payload
from tests.discord_fake_state import DiscordState

BACKLOG_LIMIT = 1000
Renderer = Callable[["GatewaySession"], Json | None]


class GatewayConnection:
    """One websocket; sends are serialised and optionally zlib-stream compressed."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request, *, compress: bool) -> None:
        self.ws = ws
        self.transport = request.transport
        self.path = request.path_qs
        self.session: GatewaySession | None = None
        self._zlib = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

    async def send(self, payload: Json) -> bool:
        """Send one frame; False when the socket is already gone."""
        text = json.dumps(payload, separators=(",", ":"))
        try:
            async with self._lock:
                if self._zlib is None:
                    await self.ws.send_str(text)
                else:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
        except (ConnectionError, RuntimeError):
            return False
        return True


@dataclass(eq=False)
class GatewaySession:
    """What survives a dropped socket: ids, sequence, intents and every dispatch sent."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    backlog: list[Json] = field(default_factory=list)
    connection: GatewayConnection | None = None

    def owns(self, guild_id: int) -> bool:
        return (guild_id >> 22) % self.shard_count == self.shard_id


class FakeGateway:
    """Sessions, shards and dispatch; counters say how the client (re)connected."""

    def __init__(
        self,
        state: DiscordState,
        *,
        heartbeat_interval_ms: int,
        allowed_intents: int,
    ) -> None:
        self.state = state
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allowed_intents = allowed_intents
        self.url = ""  # ws://127.0.0.1:<port>/gateway
        self.resume_url = ""
        self.identifies = 0
        self.resumes = 0
        self.heartbeats = 0
        self.invalid_sessions = 0
        self.connections: list[str] = []  # path and query of every websocket opened
        self.identify_payloads: list[Json] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.by_shard: dict[int, GatewaySession] = {}
        self._live: set[GatewayConnection] = set()
        self._session_ids = itertools.count(1)

    # ------------------------------------------------------------------ websocket

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress") == "zlib-stream"
        connection = GatewayConnection(ws, request, compress=compress)
        self._live.add(connection)
        self.connections.append(connection.path)
        self.state.notify()
        try:
            hello = {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake"]}
            await connection.send({"op": 10, "d": hello, "s": None, "t": None})
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_frame(connection, json.loads(message.data))
        finally:
            self._live.discard(connection)
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
            self.state.notify()
        return ws

    async def _on_frame(self, connection: GatewayConnection, frame: Json) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            self.heartbeats += 1
            await connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(connection, data or {})
        elif op == 6:
            await self._resume(connection, data or {})
        elif op == 8:
            await self._send_members(connection, data or {})

    async def _identify(self, connection: GatewayConnection, data: Json) -> None:
        self.identify_payloads.append({k: v for k, v in data.items() if k != "token"})
        if data.get("token") != self.state.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents") or 0)
        if intents & PRIVILEGED_INTENTS & ~self.allowed_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard_id, shard_count = data.get("shard") or (0, 1)
        if not 0 <= shard_id < shard_count:
            await connection.ws.close(code=4010, message=b"Invalid shard.")
            return
        self.identifies += 1
        old = self.by_shard.get(shard_id)
        if old is not None:
            self.sessions.pop(old.session_id, None)
        session = GatewaySession(
            f"fake-session-{next(self._session_ids)}", shard_id, shard_count, intents
        )
        session.connection = connection
        connection.session = session
        self.sessions[session.session_id] = session
        self.by_shard[shard_id] = session
        guilds = [g for g in self.state.guilds.values() if session.owns(g.id)]
        ready: Json = {
            "v": 10,
            "user": {**self.state.bot.payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(guild.id), "unavailable": True} for guild in guilds],
            "session_id": session.session_id,
            "resume_gateway_url": self.resume_url,
            "session_type": "normal",
            "application": {"id": str(self.state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "auth": {},
            "user_settings": {},
            "_trace": ["fake"],
        }
        if "shard" in data:
            ready["shard"] = [shard_id, shard_count]
        await self._emit(session, "READY", ready)
        all_members = bool(intents & Intent.GUILD_MEMBERS)
        for guild in guilds:
            payload = guild_payload(guild, self.state.bot.id, all_members=all_members)
            await self._emit(session, "GUILD_CREATE", payload)
        self.state.notify()

    async def _resume(self, connection: GatewayConnection, data: Json) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.state.token:
            self.invalid_sessions += 1
            await connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resumes += 1
        session.connection = connection
        connection.session = session
        seen = int(data.get("seq") or 0)
        for frame in session.backlog:
            if frame["s"] > seen:
                await connection.send(frame)
        await self._emit(session, "RESUMED", {"_trace": ["fake"]})
        self.state.notify()

    async def _send_members(self, connection: GatewayConnection, data: Json) -> None:
        guild = self.state.guilds.get(int(data.get("guild_id") or 0))
        if guild is None or connection.session is None:
            return
        wanted = {int(x) for x in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            m.payload()
            for m in guild.members.values()
            if (not wanted or m.id in wanted) and m.user.username.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        chunk: Json = {
            "guild_id": str(guild.id),
            "members": members[:limit] if limit else members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._emit(connection.session, "GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ dispatch

    async def _emit(self, session: GatewaySession, event: str, data: Json) -> None:
        session.seq += 1
        frame: Json = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.backlog.append(frame)
        del session.backlog[:-BACKLOG_LIMIT]
        if session.connection is not None:
            await session.connection.send(frame)

    def session_for(self, guild_id: int | None) -> GatewaySession | None:
        """The current session of the shard that owns ``guild_id`` (shard 0 for DMs)."""
        for session in self.by_shard.values():
            if session.owns(guild_id or 0):
                return session
        return None

    async def dispatch(
        self, event: str, data: Json | Renderer, *, guild_id: int | None, intent: int = 0
    ) -> bool:
        """Send (or queue for RESUME) one event to the owning shard; False if nobody gets it.

        ``data`` may be a function of the session, for payloads that depend on its intents.
        """
        session = self.session_for(guild_id)
        if session is None or (intent and not session.intents & intent):
            return False
        payload = data(session) if callable(data) else data
        if payload is None:
            return False
        await self._emit(session, event, payload)
        return True

    def content_visible(self, message: FakeMessage, session: GatewaySession) -> bool:
        """Without MESSAGE_CONTENT a bot sees content only of its own messages and of
        messages that mention it (a reply that pings it counts)."""
        bot_id = self.state.bot.id
        if session.intents & Intent.MESSAGE_CONTENT or message.author.id == bot_id:
            return True
        return bot_id in message.mention_user_ids

    async def publish_message(self, event: str, message: FakeMessage) -> bool:
        """MESSAGE_CREATE / UPDATE / DELETE for a non-ephemeral message (GUILD_MESSAGES)."""
        if message.ephemeral:
            return False
        data: Json | Renderer
        if event == "MESSAGE_DELETE":
            data = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
        else:

            def data(session: GatewaySession) -> Json:
                visible = self.content_visible(message, session)
                return self.state.message_payload(message, gateway=True, content_visible=visible)

        return await self.dispatch(
            event, data, guild_id=message.guild_id, intent=Intent.GUILD_MESSAGES
        )

    # ------------------------------------------------------------------ faults

    def _connections(self, shard_id: int | None) -> list[GatewayConnection]:
        return [
            c
            for c in self._live
            if shard_id is None or (c.session is not None and c.session.shard_id == shard_id)
        ]

    async def drop(
        self, *, code: int = 4000, shard_id: int | None = None, abrupt: bool = False
    ) -> int:
        """Close the live sockets (all, or one shard's); sessions stay resumable."""
        dropped = self._connections(shard_id)
        for connection in dropped:
            if connection.session is not None:
                connection.session.connection = None
            if abrupt and connection.transport is not None:
                connection.transport.abort()
            else:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await connection.ws.close(code=code, message=b"fake drop")
        self.state.notify()
        return len(dropped)

    async def request_reconnect(self, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT, after which discord.py closes and resumes."""
        for connection in self._connections(shard_id):
            await connection.send({"op": 7, "d": None, "s": None, "t": None})

    def invalidate_sessions(self) -> None:
        """Forget every session: the next RESUME gets op 9 and the client re-IDENTIFIEs."""
        self.sessions.clear()

    async def close(self) -> None:
        for connection in list(self._live):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.close(code=1001, message=b"fake shutting down")

    def summary(self) -> dict[str, Any]:
        return {
            "identifies": self.identifies,
            "resumes": self.resumes,
            "connections": len(self.connections),
            "live": len(self._live),
        }
