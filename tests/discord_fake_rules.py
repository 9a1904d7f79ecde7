"""Discord's answers and checks that need no world state: the JSON error type, "Invalid
Form Body" errors, message body validation, and the ids Discord gives components."""

from __future__ import annotations

import copy
import re

from tests.discord_fake_model import FakeGuild, Json, MessageFlag
from tests.discord_fake_records import UploadedFile, custom_ids_in

CONTENT_LIMIT = 2000
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")


class ApiError(Exception):
    """A Discord error answer: HTTP status, JSON ``code`` and ``message`` (and form errors)."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: Json | None = None,
        headers: dict[str, str] | None = None,
        body: Json | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message = status, code, message
        self.errors, self.headers, self.body = errors, headers or {}, body

    def payload(self) -> Json:
        if self.body is not None:
            return self.body
        payload: Json = {"message": self.message, "code": self.code}
        if self.errors:
            payload["errors"] = self.errors
        return payload


def form_error(field_path: str, code: str, message: str) -> ApiError:
    """A 400 / 50035 "Invalid Form Body" naming one field (``a.b.c``)."""
    errors: Json = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(field_path.split(".")):
        errors = {part: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors=errors)


def check_message_body(body: Json, files: list[UploadedFile], *, creating: bool) -> None:
    """Discord's validation of a message body: length, emptiness, component limits."""
    content = body.get("content")
    if content is not None and len(content) > CONTENT_LIMIT:
        raise form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if len(body.get("embeds") or []) > 10:
        raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    rows = body.get("components") or []
    if len(rows) > 5 and not int(body.get("flags") or 0) & MessageFlag.IS_COMPONENTS_V2:
        raise form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for index, row in enumerate(rows):
        if row.get("type") == 1 and len(row.get("components") or []) > 5:
            raise form_error(f"components.{index}.components", "BASE_TYPE_MAX_LENGTH", "Too many")
    for custom_id in custom_ids_in(rows):
        if not 1 <= len(custom_id) <= 100:
            raise form_error("components", "BASE_TYPE_BAD_LENGTH", "custom_id: 1-100 characters")
    has_payload = content or files or body.get("embeds") or rows or body.get("sticker_ids")
    if creating and not (has_payload or body.get("poll")):
        raise ApiError(400, 50006, "Cannot send an empty message")


def numbered_components(components: list[Json]) -> list[Json]:
    """A copy of ``components`` where every component has an ``id``, as Discord adds them."""
    result = copy.deepcopy(components)
    counter = iter(range(1, 10_000))

    def walk(items: list[Json]) -> None:
        for item in items:
            item.setdefault("id", next(counter))
            walk(item.get("components", []))
            for key in ("component", "accessory"):
                if isinstance(item.get(key), dict):
                    walk([item[key]])

    walk(result)
    return result


def resolve_mentions(
    content: str, allowed: Json | None, *, known_users: set[int], guild: FakeGuild | None
) -> tuple[list[int], list[int], bool]:
    """Users, roles and @everyone/@here mentioned in ``content`` that ``allowed_mentions``
    lets ping (everything when it is absent, as Discord does)."""
    users = [int(x) for x in USER_MENTION.findall(content) if int(x) in known_users]
    roles = [int(x) for x in ROLE_MENTION.findall(content) if guild and int(x) in guild.roles]
    everyone = "@everyone" in content or "@here" in content
    if allowed is not None:
        parse = set(allowed.get("parse") or [])
        if "users" not in parse:
            listed = {str(x) for x in allowed.get("users", [])}
            users = [user for user in users if str(user) in listed]
        if "roles" not in parse:
            listed = {str(x) for x in allowed.get("roles", [])}
            roles = [role for role in roles if str(role) in listed]
        everyone = everyone and "everyone" in parse
    return list(dict.fromkeys(users)), list(dict.fromkeys(roles)), everyone
