"""Bot-token routes of the fake Discord: gateway discovery, users, the application,
channels and their messages, guilds, members, and the attachment "CDN".

Message create/edit spend the channel's budget (429 past it), need the bot's channel
permissions (403 50001/50013), are validated (400 50035/50006), size-checked (413 40005)
and refused on messages older than ``old_message_age`` (400 30046); each change goes out
on the gateway as MESSAGE_CREATE / UPDATE / DELETE.
"""

from __future__ import annotations

from aiohttp import web

from tests.discord_fake_model import FakeChannel, FakeGuild, Perm
from tests.discord_fake_render import guild_payload
from tests.discord_fake_rest import API, FakeRest, json_response, no_content
from tests.discord_fake_rules import ApiError, check_message_body


class BotRoutes:
    """Routes a bot calls with its own token."""

    def __init__(self, rest: FakeRest) -> None:
        self.rest = rest
        self.state = rest.state

    def add_routes(self, app: web.Application) -> None:
        get, post = web.get, web.post
        reaction = f"{API}/channels/{{channel_id}}/messages/{{message_id}}/reactions/{{emoji}}"
        app.add_routes(
            [
                get(f"{API}/gateway", self.get_gateway),
                get(f"{API}/gateway/bot", self.get_gateway_bot),
                get(f"{API}/users/@me", self.get_me),
                get(f"{API}/users/{{user_id}}", self.get_user),
                get(f"{API}/oauth2/applications/@me", self.get_application),
                get(f"{API}/applications/@me", self.get_application),
                get(f"{API}/channels/{{channel_id}}", self.get_channel),
                get(f"{API}/channels/{{channel_id}}/messages", self.list_messages),
                post(f"{API}/channels/{{channel_id}}/messages", self.create_message),
                get(f"{API}/channels/{{channel_id}}/messages/{{message_id}}", self.get_message),
                web.patch(
                    f"{API}/channels/{{channel_id}}/messages/{{message_id}}", self.edit_message
                ),
                web.delete(
                    f"{API}/channels/{{channel_id}}/messages/{{message_id}}", self.delete_message
                ),
                post(f"{API}/channels/{{channel_id}}/typing", self.typing),
                web.put(f"{reaction}/@me", self.react),
                web.delete(f"{reaction}/@me", self.unreact),
                get(f"{API}/guilds/{{guild_id}}", self.get_guild),
                get(f"{API}/guilds/{{guild_id}}/channels", self.get_guild_channels),
                get(f"{API}/guilds/{{guild_id}}/roles", self.get_guild_roles),
                get(f"{API}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member),
                get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment),
            ]
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.rest.gateway.url}, headers=self.rest.headers("gateway"))

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        self.rest.authorize(request)
        limits = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        data = {
            "url": self.rest.gateway.url,
            "shards": self.rest.shard_count,
            "session_start_limit": limits,
        }
        return json_response(data, headers=self.rest.headers("gateway/bot"))

    async def get_me(self, request: web.Request) -> web.Response:
        self.rest.authorize(request)
        data = {**self.state.bot.payload(), "verified": True, "mfa_enabled": False}
        return json_response(data, headers=self.rest.headers("users/@me"))

    async def get_user(self, request: web.Request) -> web.Response:
        self.rest.authorize(request)
        user = self.state.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user.payload(), headers=self.rest.headers("users"))

    async def get_application(self, request: web.Request) -> web.Response:
        self.rest.authorize(request)
        data = {
            "id": str(self.state.application_id),
            "name": self.state.bot.global_name,
            "icon": None,
            "description": "A fake application for offline tests",
            "summary": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.state.app_owner.payload(),
            "team": None,
            "bot": self.state.bot.payload(),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "tags": [],
            "approximate_guild_count": len(self.state.guilds),
            "integration_types_config": {"0": {}},
        }
        return json_response(data, headers=self.rest.headers("applications/@me"))

    def _channel(self, request: web.Request) -> FakeChannel:
        self.rest.authorize(request)
        return self.state.channel(int(request.match_info["channel_id"]))

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self.state.require(channel, Perm.VIEW_CHANNEL)
        return json_response(channel.payload(), headers=self.rest.headers("channels"))

    async def list_messages(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self.state.require(channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        limit = min(int(request.query.get("limit", 50)), 100)
        before = int(request.query.get("before", 1 << 63))
        after = int(request.query.get("after", 0))
        found = [
            m
            for m in self.state.messages.values()
            if m.channel_id == channel.id
            and not m.deleted
            and not m.ephemeral
            and after < m.id < before
        ]
        found.sort(key=lambda m: m.id, reverse=True)
        payload = [self.state.message_payload(m) for m in found[:limit]]
        return json_response(payload, headers=self.rest.headers(f"history {channel.id}"))

    async def create_message(self, request: web.Request) -> web.Response:
        body, files = await self.rest.read_body(request)
        channel = self._channel(request)
        self.state.require(channel, Perm.SEND_MESSAGES | (Perm.ATTACH_FILES if files else 0))
        headers = self.rest.spend(channel.id, "message create")
        body = body or {}
        check_message_body(body, files, creating=True)
        self.rest.check_upload(channel, files)
        message = self.state.create_message(channel, self.state.bot, body, files)
        await self.rest.gateway.publish_message("MESSAGE_CREATE", message)
        return self.rest.message_response(message, headers)

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self.state.require(channel, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        message = self.state.message(channel, int(request.match_info["message_id"]))
        if message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        return self.rest.message_response(message, self.rest.headers(f"message {channel.id}"))

    async def edit_message(self, request: web.Request) -> web.Response:
        body, files = await self.rest.read_body(request)
        channel = self._channel(request)
        message = self.state.message(channel, int(request.match_info["message_id"]))
        if message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        if message.author.id != self.state.bot.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self.state.require(channel, Perm.VIEW_CHANNEL | (Perm.ATTACH_FILES if files else 0))
        self.rest.check_edit_age(message)
        headers = self.rest.spend(channel.id, "message edit")
        body = body or {}
        check_message_body(body, files, creating=False)
        self.rest.check_upload(channel, files)
        self.state.edit_message(message, body, files)
        await self.rest.gateway.publish_message("MESSAGE_UPDATE", message)
        return self.rest.message_response(message, headers)

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self.state.message(channel, int(request.match_info["message_id"]))
        if message.ephemeral:
            raise ApiError(404, 10008, "Unknown Message")
        if message.author.id != self.state.bot.id:
            self.state.require(channel, Perm.MANAGE_MESSAGES)
        self.state.delete_message(message)
        await self.rest.gateway.publish_message("MESSAGE_DELETE", message)
        return no_content(self.rest.headers(f"message delete {channel.id}"))

    async def typing(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        self.state.require(channel, Perm.SEND_MESSAGES)
        return no_content(self.rest.headers(f"typing {channel.id}"))

    async def react(self, request: web.Request) -> web.Response:
        """The bot adds a reaction (``bot_reactions`` of the message)."""
        channel = self._channel(request)
        self.state.require(channel, Perm.READ_MESSAGE_HISTORY | Perm.ADD_REACTIONS)
        message = self.state.message(channel, int(request.match_info["message_id"]))
        if request.match_info["emoji"] not in message.bot_reactions:
            message.bot_reactions.append(request.match_info["emoji"])
        self.state.notify()
        return no_content(self.rest.headers(f"reactions {channel.id}"))

    async def unreact(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        message = self.state.message(channel, int(request.match_info["message_id"]))
        if request.match_info["emoji"] in message.bot_reactions:
            message.bot_reactions.remove(request.match_info["emoji"])
        self.state.notify()
        return no_content(self.rest.headers(f"reactions {channel.id}"))

    def _guild(self, request: web.Request) -> FakeGuild:
        self.rest.authorize(request)
        guild = self.state.guilds.get(int(request.match_info["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        data = guild_payload(guild, self.state.bot.id, all_members=False)
        return json_response(data, headers=self.rest.headers("guild"))

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        data = [c.payload() for c in guild.channels.values() if not c.deleted]
        return json_response(data, headers=self.rest.headers("guild channels"))

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        return json_response(
            [r.payload() for r in guild.roles.values()], headers=self.rest.headers("roles")
        )

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(member.payload(), headers=self.rest.headers("member"))

    async def get_attachment(self, request: web.Request) -> web.Response:
        """The CDN: serves stored attachments by URL, no token needed."""
        attachment = self.state.attachments.get(int(request.match_info["attachment_id"]))
        if attachment is None or attachment.filename != request.match_info["filename"]:
            raise web.HTTPNotFound()
        return web.Response(body=attachment.data, headers={"Content-Type": attachment.content_type})
