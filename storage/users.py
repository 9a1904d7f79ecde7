"""The directory of users seen by @username, over SQLite (``known_users``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.records import KnownUser
from storage.db import Database, encode_time, utc_now

_REMEMBER = """
INSERT INTO known_users (platform, username, user_id, display_name, seen_at)
VALUES (:platform, :username, :user_id, :display_name, :seen_at)
ON CONFLICT (platform, username) DO UPDATE SET
    user_id = excluded.user_id, display_name = excluded.display_name, seen_at = excluded.seen_at
"""

_FIND = """
SELECT user_id, display_name FROM known_users WHERE platform = :platform AND username = :username
"""


class SqliteUserDirectory:
    """``UserDirectory`` on the bot's database: one upsert per change, one lookup by key.

    A username moves with its owner: the latest user seen with it wins."""

    def __init__(self, database: Database, *, now: Callable[[], datetime] = utc_now) -> None:
        self._db = database
        self._now = now

    async def remember(self, platform: str, username: str, user_id: str, display_name: str) -> None:
        await self._db.fetch_all(
            _REMEMBER,
            {
                "platform": platform,
                "username": username.lower().lstrip("@"),
                "user_id": user_id,
                "display_name": display_name,
                "seen_at": encode_time(self._now()),
            },
        )

    async def find(self, platform: str, username: str) -> KnownUser | None:
        row = await self._db.fetch_one(
            _FIND, {"platform": platform, "username": username.lower().lstrip("@")}
        )
        return KnownUser(row["user_id"], row["display_name"]) if row else None
