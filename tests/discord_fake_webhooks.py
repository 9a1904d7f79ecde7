"""Interaction routes of the fake Discord: callbacks and the interaction-token webhooks.

- ``/interactions/{id}/{token}/callback`` (types 4, 5, 6, 7, 8, 9; ``with_response``),
  within ``ack_deadline`` seconds and only once (10062 / 40060 otherwise);
- ``/webhooks/{app}/{token}[/messages/{id|@original}]``: followups and edits through the
  interaction token, which dies after ``token_lifetime`` (401 / 50027).
"""

from __future__ import annotations

import copy

from aiohttp import web

from tests.discord_fake_model import Json, MessageFlag
from tests.discord_fake_records import FakeInteraction, FakeMessage, InteractionResponse
from tests.discord_fake_rest import API, FakeRest, json_response, no_content
from tests.discord_fake_rules import ApiError, check_message_body, form_error

CALLBACK_TYPES = {  # interaction type → callback types Discord accepts for it
    2: {4, 5, 9},
    3: {4, 5, 6, 7, 9},
    4: {8},
    5: {4, 5, 6, 7},
}


class WebhookRoutes:
    """Interaction callbacks and interaction-token webhooks."""

    def __init__(self, rest: FakeRest, *, token_lifetime: float, ack_deadline: float) -> None:
        self.rest = rest
        self.state = rest.state
        self.token_lifetime = token_lifetime
        self.ack_deadline = ack_deadline

    def add_routes(self, app: web.Application) -> None:
        webhook = f"{API}/webhooks/{{application_id}}/{{token}}"
        app.add_routes(
            [
                web.post(
                    f"{API}/interactions/{{interaction_id}}/{{token}}/callback", self.callback
                ),
                web.post(webhook, self.followup),
                web.get(f"{webhook}/messages/{{message_id}}", self.get_webhook_message),
                web.patch(f"{webhook}/messages/{{message_id}}", self.edit_webhook_message),
                web.delete(f"{webhook}/messages/{{message_id}}", self.delete_webhook_message),
            ]
        )

    # ------------------------------------------------------------------ callback

    async def callback(self, request: web.Request) -> web.Response:
        body, files = await self.rest.read_body(request)
        interaction = self.state.interactions.get(int(request.match_info["interaction_id"]))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if self.state.clock() - interaction.created_at > self.ack_deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        kind, data = int((body or {}).get("type", 0)), (body or {}).get("data") or {}
        if kind not in CALLBACK_TYPES.get(interaction.type, set()):
            raise form_error(
                "type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
            )
        if kind in (6, 7) and interaction.message is None:
            raise form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "No message to update")
        channel = self.state.channel(interaction.channel.id)
        self.rest.check_upload(channel, files)
        ephemeral = bool(int(data.get("flags") or 0) & MessageFlag.EPHEMERAL)
        message: FakeMessage | None = None
        message_type = 0  # DEFAULT; chat input → 20, context menu → 23
        if interaction.type == 2:
            message_type = 20 if interaction.data.get("type", 1) == 1 else 23
        if kind == 4:
            check_message_body(data, files, creating=True)
            flags = MessageFlag.EPHEMERAL if ephemeral else 0
            message = self.state.create_message(
                channel,
                self.state.bot,
                data,
                files,
                message_type=message_type,
                interaction=interaction,
                flags=flags,
            )
        elif kind == 5:
            flags = MessageFlag.LOADING | (MessageFlag.EPHEMERAL if ephemeral else 0)
            message = self.state.create_message(
                channel,
                self.state.bot,
                {},
                [],
                message_type=message_type,
                interaction=interaction,
                flags=flags,
            )
        elif kind in (6, 7):
            message = interaction.message
            if kind == 7 and message is not None:
                check_message_body(data, files, creating=False)
                self.state.edit_message(message, data, files)
        elif kind == 9 and not (
            data.get("custom_id") and data.get("title") and data.get("components")
        ):
            raise form_error(
                "data", "MODAL_INVALID", "A modal needs custom_id, title and components"
            )
        if kind == 9:
            interaction.modal = copy.deepcopy(data)
        if message is not None:
            interaction.original = message
        interaction.responses.append(
            InteractionResponse(kind, copy.deepcopy(data), ephemeral, self.state.clock())
        )
        self.state.notify()
        if message is not None and kind in (4, 5):
            await self.rest.gateway.publish_message("MESSAGE_CREATE", message)
        elif message is not None and kind == 7:
            await self.rest.gateway.publish_message("MESSAGE_UPDATE", message)
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return no_content(self.rest.headers("callback"))
        return json_response(
            self._callback_payload(interaction, kind, message),
            headers=self.rest.headers("callback"),
        )

    def _callback_payload(
        self, interaction: FakeInteraction, kind: int, message: FakeMessage | None
    ) -> Json:
        about: Json = {"id": str(interaction.id), "type": interaction.type}
        resource: Json = {"type": kind}
        if message is not None and kind in (4, 5, 7):
            about["response_message_id"] = str(message.id)
            about["response_message_loading"] = kind == 5
            about["response_message_ephemeral"] = message.ephemeral
        if message is not None and kind in (4, 7):
            resource["message"] = self.state.message_payload(message)
        return {"interaction": about, "resource": resource}

    # ------------------------------------------------------------------ token webhooks

    def _interaction(self, request: web.Request) -> FakeInteraction:
        if int(request.match_info["application_id"]) != self.state.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        interaction = self.state.tokens.get(request.match_info["token"])
        if interaction is None or self.state.clock() - interaction.created_at > self.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return interaction

    def _message(self, interaction: FakeInteraction, message_id: str) -> FakeMessage:
        candidates = [interaction.original, *interaction.followups]
        if message_id == "@original":
            message = interaction.original
        else:
            message = next(
                (m for m in candidates if m is not None and str(m.id) == message_id), None
            )
        if message is None or message.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        self.state.channel(message.channel_id)
        return message

    def _spend(self, interaction: FakeInteraction, bucket: str) -> dict[str, str]:
        if self.rest.count_webhook_edits:
            return self.rest.spend(interaction.channel.id, bucket)
        return self.rest.headers(bucket)

    async def followup(self, request: web.Request) -> web.Response:
        body, files = await self.rest.read_body(request)
        interaction = self._interaction(request)
        if not interaction.acknowledged:
            raise ApiError(404, 10015, "Unknown Webhook")
        channel = self.state.channel(interaction.channel.id)
        headers = self._spend(interaction, "webhook create")
        body = body or {}
        check_message_body(body, files, creating=True)
        self.rest.check_upload(channel, files)
        original = interaction.original
        if original is not None and original.loading and not original.deleted:
            # Discord: the first followup after a thinking defer replaces the loading message
            self.state.edit_message(original, body, files)
            message, event = original, "MESSAGE_UPDATE"
        else:
            flags = (
                MessageFlag.EPHEMERAL if int(body.get("flags") or 0) & MessageFlag.EPHEMERAL else 0
            )
            message = self.state.create_message(
                channel, self.state.bot, body, files, interaction=interaction, flags=flags
            )
            interaction.followups.append(message)
            event = "MESSAGE_CREATE"
        self.state.notify()
        await self.rest.gateway.publish_message(event, message)
        if request.query.get("wait", "").lower() not in ("1", "true"):
            return no_content(headers)
        return self.rest.message_response(message, headers)

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        message = self._message(interaction, request.match_info["message_id"])
        return self.rest.message_response(message, self.rest.headers("webhook message"))

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        body, files = await self.rest.read_body(request)
        interaction = self._interaction(request)
        message = self._message(interaction, request.match_info["message_id"])
        self.rest.check_edit_age(message)
        headers = self._spend(interaction, "webhook edit")
        body = body or {}
        check_message_body(body, files, creating=False)
        self.rest.check_upload(self.state.channel(message.channel_id), files)
        self.state.edit_message(message, body, files)
        await self.rest.gateway.publish_message("MESSAGE_UPDATE", message)
        return self.rest.message_response(message, headers)

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        message = self._message(interaction, request.match_info["message_id"])
        self.state.delete_message(message)
        await self.rest.gateway.publish_message("MESSAGE_DELETE", message)
        return no_content(self.rest.headers("webhook delete"))
