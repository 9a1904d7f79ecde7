"""The test's users: drivers that make people act in the fake Discord.

Each driver builds the payload the real Discord would send (INTERACTION_CREATE with
resolved users/members/attachments, MESSAGE_CREATE with ``referenced_message``), sends it
over the gateway to the shard owning the guild and returns the record
(``FakeInteraction`` / ``FakeMessage``) that then collects what the bot did with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.discord_fake_gateway import FakeGateway
from tests.discord_fake_model import FakeChannel, FakeMember, Json
from tests.discord_fake_options import (
    OptionBuilder,
    Upload,
    assign_attachments,
    find_component,
    find_option,
    modal_submission,
)
from tests.discord_fake_records import FakeInteraction, FakeMessage, UploadedFile
from tests.discord_fake_state import DiscordState


class UserDrivers:
    """Mixin of ``FakeDiscord``: slash commands, menus, buttons, modals, messages."""

    state: DiscordState
    gateway: FakeGateway

    def _registered(self, name: str, guild_id: int, kind: int) -> Json | None:
        for scope in (guild_id, None):
            for command in self.state.commands.get(scope, []):
                if command["name"] == name and command["type"] == kind:
                    return command
        return None

    async def _interact(
        self,
        kind: int,
        user: FakeMember,
        channel: FakeChannel,
        data: Json,
        *,
        message: FakeMessage | None = None,
    ) -> FakeInteraction:
        guild = self.state.guilds[channel.guild_id]
        interaction_id = self.state.ids.next()
        token = f"fake-interaction-token-{interaction_id}"
        permissions = guild.permissions_in(user, channel)
        payload: Json = {
            "id": str(interaction_id),
            "application_id": str(self.state.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": channel.payload(permissions=permissions),
            "member": user.payload(permissions=permissions),
            "app_permissions": str(self.state.bot_permissions(channel)),
            "locale": user.user.locale,
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": guild.filesize_limit,
        }
        if message is not None:
            payload["message"] = self.state.message_payload(message)
        interaction = FakeInteraction(
            interaction_id, token, kind, user, channel, data, self.state.clock(), payload, message
        )
        self.state.interactions[interaction_id] = interaction
        self.state.tokens[token] = interaction
        if not await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild.id):
            raise RuntimeError(
                f"no gateway session owns guild {guild.id}: is the client connected?"
            )
        self.state.notify()
        return interaction

    async def send_slash_command(
        self,
        user: FakeMember,
        channel: FakeChannel,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        attachments: Mapping[str, Upload] | Sequence[Upload] | None = None,
    ) -> FakeInteraction:
        """``/name [group] [subcommand] options…`` typed by ``user`` in ``channel``.

        Values are typed by the registered command's options when it was synced (else by
        Python type); members, roles and channels are resolved; attachments are
        ``(filename, bytes, content_type)`` served by the fake at their ``url``.
        """
        command = self._registered(name, channel.guild_id, 1)
        definitions = command.get("options", []) if command else None
        path = f"/{name}"
        for nested in (group, subcommand):
            if nested is not None:
                path += f" {nested}"
                found = find_option(definitions, nested, path)
                definitions = found.get("options", []) if found else None
        values = dict(options or {})
        if attachments:
            assign_attachments(values, attachments, definitions)
        builder = OptionBuilder(self.state, channel)
        built = builder.build(values, definitions, path)
        if subcommand is not None:
            built = [{"type": 1, "name": subcommand, "options": built}]
        if group is not None:
            built = [{"type": 2, "name": group, "options": built}]
        data: Json = {
            "id": command["id"] if command else str(self.state.ids.next()),
            "name": name,
            "type": 1,
        }
        data["options"] = built
        if builder.resolved:
            data["resolved"] = builder.resolved
        if command is not None and "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return await self._interact(2, user, channel, data)

    async def message_context_menu(
        self, name: str, message: FakeMessage, user: FakeMember
    ) -> FakeInteraction:
        """Apps → ``name`` on ``message``."""
        channel = self.state.channels[message.channel_id]
        command = self._registered(name, channel.guild_id, 3)
        data: Json = {
            "id": command["id"] if command else str(self.state.ids.next()),
            "name": name,
            "type": 3,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): self.state.message_payload(message)}},
        }
        if command is not None and "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return await self._interact(2, user, channel, data)

    async def click_button(
        self, message: FakeMessage, custom_id: str, user: FakeMember
    ) -> FakeInteraction:
        """Press the button ``custom_id`` on ``message`` (it must be there and enabled)."""
        return await self._component(
            message, custom_id, user, {"custom_id": custom_id, "component_type": 2}
        )

    async def select_option(
        self, message: FakeMessage, custom_id: str, values: Sequence[str], user: FakeMember
    ) -> FakeInteraction:
        data = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        return await self._component(message, custom_id, user, data)

    async def _component(
        self, message: FakeMessage, custom_id: str, user: FakeMember, data: Json
    ) -> FakeInteraction:
        component = find_component(message.components, custom_id)
        if component is None or message.deleted:
            raise ValueError(f"message {message.id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        return await self._interact(
            3, user, self.state.channels[message.channel_id], data, message=message
        )

    async def submit_modal(
        self,
        source: FakeInteraction | str,
        values: Mapping[str, Any],
        *,
        user: FakeMember | None = None,
        channel: FakeChannel | None = None,
    ) -> FakeInteraction:
        """Submit the modal the bot opened in answer to ``source`` (or a bare custom_id)."""
        message: FakeMessage | None = None
        if isinstance(source, FakeInteraction):
            if source.modal is None:
                raise ValueError("the bot did not answer that interaction with a modal")
            custom_id = source.modal["custom_id"]
            components = modal_submission(source.modal["components"], values)
            user, channel, message = (
                user or source.member,
                channel or source.channel,
                source.message,
            )
        else:
            custom_id = source
            components = [
                {"type": 1, "components": [{"type": 4, "custom_id": key, "value": str(value)}]}
                for key, value in values.items()
            ]
        if user is None or channel is None:
            raise ValueError("submit_modal with a bare custom_id needs user= and channel=")
        data = {"custom_id": custom_id, "components": components}
        return await self._interact(5, user, channel, data, message=message)

    async def post_message(
        self,
        user: FakeMember,
        channel: FakeChannel,
        content: str,
        *,
        reply_to: FakeMessage | int | None = None,
        mention_author: bool = True,
        attachments: Sequence[Upload] = (),
    ) -> FakeMessage:
        """A user writes in ``channel`` (optionally replying); MESSAGE_CREATE goes out."""
        body: Json = {"content": content}
        if reply_to is not None:
            target = reply_to.id if isinstance(reply_to, FakeMessage) else reply_to
            body["message_reference"] = {"message_id": str(target)}
            if not mention_author:
                body["allowed_mentions"] = {
                    "parse": ["users", "roles", "everyone"],
                    "replied_user": False,
                }
        files = [
            UploadedFile(f"files[{i}]", name, kind, data)
            for i, (name, data, kind) in enumerate(attachments)
        ]
        message = self.state.create_message(channel, user.user, body, files)
        await self.gateway.publish_message("MESSAGE_CREATE", message)
        return message
