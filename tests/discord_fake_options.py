"""How a Discord client builds interaction data: option values, resolved objects, modal
submissions. Used by the drivers in ``discord_fake_drivers``; raises ``ValueError`` where
the real client would not let a user send such a thing (unknown option, missing required
value, a choice not offered, a disabled button)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.discord_fake_model import FakeChannel, FakeMember, FakeRole, FakeUser, Json
from tests.discord_fake_state import DiscordState

Upload = tuple[str, bytes, str]  # (filename, bytes, content type)
ALL_VISIBLE = (
    (1 << 10) | (1 << 11) | (1 << 16)
)  # a resolved channel's permissions: view, send, history


def infer_type(value: Any) -> int:
    """The option type for a value when the command was never registered."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, FakeMember | FakeUser):
        return 6
    if isinstance(value, FakeChannel):
        return 7
    if isinstance(value, FakeRole):
        return 8
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], bytes):
        return 11
    return 3


def find_option(definitions: list[Json] | None, name: str, path: str) -> Json | None:
    if definitions is None:
        return None
    for definition in definitions:
        if definition["name"] == name:
            return definition
    raise ValueError(f"{path} has no option {name!r}")


class OptionBuilder:
    """Turns ``{name: value}`` into interaction options plus ``resolved`` data."""

    def __init__(self, state: DiscordState, channel: FakeChannel) -> None:
        self.state = state
        self.channel = channel
        self.guild = state.guilds[channel.guild_id]
        self.resolved: dict[str, dict[str, Json]] = {}

    def build(
        self, values: Mapping[str, Any], definitions: list[Json] | None, path: str
    ) -> list[Json]:
        if definitions is not None:
            missing = [
                d["name"] for d in definitions if d.get("required") and d["name"] not in values
            ]
            if missing:
                raise ValueError(f"{path}: required options missing: {missing}")
        return [
            self.option(name, value, find_option(definitions, name, path))
            for name, value in values.items()
        ]

    def option(self, name: str, value: Any, definition: Json | None) -> Json:
        kind = definition["type"] if definition else infer_type(value)
        if kind == 11:
            return {"name": name, "type": kind, "value": str(self._attachment(value))}
        if kind in (6, 9) and isinstance(value, FakeMember | FakeUser):
            return {"name": name, "type": kind, "value": str(self._user(value))}
        if kind in (8, 9) and isinstance(value, FakeRole):
            self.resolved.setdefault("roles", {})[str(value.id)] = value.payload()
            return {"name": name, "type": kind, "value": str(value.id)}
        if kind == 7:
            return {"name": name, "type": kind, "value": str(self._channel(value))}
        converted: Any = {4: int, 5: bool, 10: float}.get(kind, str)(value)
        choices = (definition or {}).get("choices")
        if choices and converted not in [choice["value"] for choice in choices]:
            raise ValueError(f"{converted!r} is not one of the choices of option {name!r}")
        return {"name": name, "type": kind, "value": converted}

    def _attachment(self, value: Upload) -> int:
        filename, data, content_type = value
        attachment = self.state.store_attachment(self.channel.id, filename, data, content_type)
        self.resolved.setdefault("attachments", {})[str(attachment.id)] = attachment.payload()
        return attachment.id

    def _user(self, value: FakeMember | FakeUser) -> int:
        user = value.user if isinstance(value, FakeMember) else value
        self.resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = self.guild.members.get(user.id)
        if member is not None:
            permissions = self.guild.permissions_in(member, self.channel)
            payload = member.payload(with_user=False, permissions=permissions)
            self.resolved.setdefault("members", {})[str(user.id)] = payload
        return user.id

    def _channel(self, value: FakeChannel) -> int:
        payload = value.payload(permissions=ALL_VISIBLE)
        self.resolved.setdefault("channels", {})[str(value.id)] = payload
        return value.id


def assign_attachments(
    values: dict[str, Any],
    attachments: Mapping[str, Upload] | Sequence[Upload],
    definitions: list[Json] | None,
) -> None:
    """Put uploads into ``values``: by option name, or in order onto attachment options."""
    if isinstance(attachments, Mapping):
        values.update(attachments)
        return
    names = [d["name"] for d in definitions or [] if d["type"] == 11]
    if len(names) < len(attachments):
        raise ValueError(
            "pass attachments by option name: the command has too few attachment options"
        )
    values.update(zip(names, attachments, strict=False))


def find_component(components: list[Json], custom_id: str) -> Json | None:
    for item in components:
        if item.get("custom_id") == custom_id:
            return item
        nested = [*item.get("components", [])]
        nested += [
            item[key] for key in ("component", "accessory") if isinstance(item.get(key), dict)
        ]
        found = find_component(nested, custom_id)
        if found is not None:
            return found
    return None


def modal_submission(components: list[Json], values: Mapping[str, Any]) -> list[Json]:
    """The ``components`` of a MODAL_SUBMIT for a modal the bot showed, filled with ``values``.

    Text inputs get ``value`` (their pre-filled value when not given; a required one left
    empty is refused like the client would); selects get ``values``; rows and labels keep
    their shape; display-only components are left out.
    """
    used: set[str] = set()

    def fill(item: Json) -> Json | None:
        kind = item.get("type")
        if kind == 1:
            children = [c for c in (fill(child) for child in item.get("components", [])) if c]
            return {"type": 1, "components": children}
        if kind == 18:
            inner = fill(item["component"])
            return {"type": 18, "component": inner} if inner else None
        custom_id = item.get("custom_id")
        if custom_id is None:
            return None
        used.add(custom_id)
        if kind == 4:
            text = str(values.get(custom_id, item.get("value") or ""))
            if item.get("required", True) and not text:
                raise ValueError(f"text input {custom_id!r} is required")
            if len(text) > int(item.get("max_length") or 4000):
                raise ValueError(f"text input {custom_id!r} is longer than its max_length")
            return {"type": 4, "custom_id": custom_id, "value": text}
        return {"type": kind, "custom_id": custom_id, "values": list(values.get(custom_id, []))}

    filled = [c for c in (fill(component) for component in components) if c]
    unknown = set(values) - used
    if unknown:
        raise ValueError(f"the modal has no inputs {sorted(unknown)}")
    return filled
