"""Who may manage credits in a chat: its creator and administrators, plus configured users.

Telegram facts (https://core.telegram.org/bots/api#getchatmember): a member's ``status`` is
``creator`` or ``administrator`` for admins; an anonymous admin posts *as the group itself*
(``sender_chat`` is the chat), so such a message comes from an admin by construction. In a
private chat there are no admins: only the configured moderators count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Final

from telegram import Bot, ChatMember, Message
from telegram.error import TelegramError

log = logging.getLogger(__name__)

ADMIN_STATUSES: Final = frozenset({ChatMember.OWNER, ChatMember.ADMINISTRATOR})
CACHE_SECONDS: Final = 60.0


class Moderators:
    """Decides ``Invocation.is_moderator``; admin lookups are cached for ``cache_seconds``."""

    def __init__(
        self,
        bot: Bot,
        configured: Iterable[str],
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bot = bot
        self._ids = {entry for entry in configured if not entry.startswith("@")}
        self._usernames = {entry[1:].lower() for entry in configured if entry.startswith("@")}
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[tuple[int, int], tuple[float, bool]] = {}
        self._lookups: dict[tuple[int, int], asyncio.Future[bool]] = {}

    def is_configured(self, user_id: int, username: str | None) -> bool:
        return str(user_id) in self._ids or (username or "").lower() in self._usernames

    async def check(self, message: Message) -> bool:
        chat = message.chat
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous administrator
        user = message.from_user
        if user is None:
            return False
        if self.is_configured(user.id, user.username):
            return True
        if chat.type == chat.PRIVATE:
            return False
        return await self.is_admin(chat.id, user.id)

    async def is_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether the user is the chat's creator or an administrator. Concurrent updates of
        one user share one lookup (updates are handled concurrently)."""
        key = (chat_id, user_id)
        cached = self._cache.get(key)
        if cached is not None and self._clock() - cached[0] < self._cache_seconds:
            return cached[1]
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = asyncio.ensure_future(self._lookup(chat_id, user_id))
            lookup.add_done_callback(lambda _: self._lookups.pop(key, None))
        return await asyncio.shield(lookup)

    async def _lookup(self, chat_id: int, user_id: int) -> bool:
        now = self._clock()
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:
            log.warning("cannot look up a member of chat %s: %s", chat_id, exc)
            return False
        verdict = member.status in ADMIN_STATUSES
        self._cache[(chat_id, user_id)] = (now, verdict)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self._cache_seconds}
        return verdict
