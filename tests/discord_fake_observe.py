"""What tests read from the fake Discord, and how they wait for it without sleeping.

``wait_*`` re-check their condition after every request, event or change the fake records
(and every few milliseconds, for conditions about the client's own state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from tests.discord_fake_model import FakeChannel, FakeGuild, Json
from tests.discord_fake_records import (
    FakeInteraction,
    FakeMessage,
    InteractionResponse,
    RequestRecord,
)
from tests.discord_fake_rest import FakeRest
from tests.discord_fake_state import DiscordState

T = TypeVar("T")


class Observations:
    """Mixin of ``FakeDiscord``: records, counters and waits."""

    state: DiscordState
    rest: FakeRest

    # ------------------------------------------------------------------ records

    @property
    def requests(self) -> list[RequestRecord]:
        return self.state.requests

    @property
    def messages(self) -> dict[int, FakeMessage]:
        return self.state.messages

    @property
    def interactions(self) -> dict[int, FakeInteraction]:
        return self.state.interactions

    @property
    def rate_limited(self) -> int:
        return self.rest.rate_limited

    @property
    def rate_limited_by_channel(self) -> Mapping[int, int]:
        return self.rest.rate_limited_by_channel

    @property
    def invalid_requests(self) -> int:
        return self.rest.invalid_requests

    def messages_in(
        self, channel: FakeChannel, *, include_deleted: bool = False, include_ephemeral: bool = True
    ) -> list[FakeMessage]:
        """Messages of a channel, oldest first."""
        return [
            m
            for m in self.state.messages.values()
            if m.channel_id == channel.id
            and (include_deleted or not m.deleted)
            and (include_ephemeral or not m.ephemeral)
        ]

    def commands(self, guild: FakeGuild | None = None) -> list[Json]:
        """Registered commands: global ones, or those of ``guild``."""
        return self.state.commands.get(guild.id if guild else None, [])

    def command(self, name: str, *, guild: FakeGuild | None = None, kind: int = 1) -> Json | None:
        return next(
            (c for c in self.commands(guild) if c["name"] == name and c["type"] == kind), None
        )

    def requests_to(self, route: str) -> list[RequestRecord]:
        """Requests whose route is e.g. ``"PATCH /channels/{channel_id}/messages/{message_id}"``."""
        return [record for record in self.state.requests if record.route == route]

    # ------------------------------------------------------------------ waiting
    # ``within`` bounds the whole wait, in real seconds (as ``telegram_fake.wait_for``).

    async def wait_for(
        self,
        predicate: Callable[[], T],
        within: float = 5.0,
    ) -> T:
        """The first truthy ``predicate()``, re-evaluated after every request or event."""
        return await self.state.wait_for(predicate, within)

    async def wait_for_request(
        self,
        route: str,
        *,
        after: int = 0,
        within: float = 5.0,
    ) -> RequestRecord:
        """The first request to ``route`` at index ≥ ``after`` in ``requests``."""

        def found() -> RequestRecord | None:
            return next((r for r in self.state.requests[after:] if r.route == route), None)

        return await self.wait_for(found, within)

    async def wait_for_message(
        self,
        channel: FakeChannel,
        predicate: Callable[[FakeMessage], bool] | None = None,
        *,
        within: float = 5.0,
    ) -> FakeMessage:
        """The first live message in ``channel`` matching ``predicate``."""

        def found() -> FakeMessage | None:
            return next(
                (m for m in self.messages_in(channel) if predicate is None or predicate(m)), None
            )

        return await self.wait_for(found, within)

    async def wait_for_response(
        self,
        interaction: FakeInteraction,
        within: float = 5.0,
    ) -> InteractionResponse:
        """The callback the bot answered ``interaction`` with."""
        return await self.wait_for(lambda: interaction.response, within)
