"""Application command routes of the fake Discord, validated like Discord does.

``/applications/{app}/commands`` and ``/applications/{app}/guilds/{g}/commands``: bulk
overwrite (PUT, what ``CommandTree.sync`` uses), create-or-update (POST), get, edit,
delete. Names, descriptions, ≤25 options/choices and required-before-optional are
checked, so a command the real Discord would refuse fails here too (400 / 50035).
Stored commands (``state.commands[guild_id or None]``) keep every field that was sent.
"""

from __future__ import annotations

import copy
import re

from aiohttp import web

from tests.discord_fake_model import Json
from tests.discord_fake_rest import API, FakeRest, json_response, no_content
from tests.discord_fake_rules import ApiError, form_error

COMMAND_NAME = re.compile(r"[-_\w]{1,32}")


def _check_name(name: str, path: str, *, chat_input: bool = True) -> None:
    """Slash command and option names: ``[-_\\w]{1,32}`` lower case; menus: any 1-32 chars."""
    valid = (
        COMMAND_NAME.fullmatch(name) and name == name.lower()
        if chat_input
        else 1 <= len(name) <= 32
    )
    if not valid:
        raise form_error(
            f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
        )


def _check_description(text: str, path: str) -> None:
    if not 1 <= len(text) <= 100:
        raise form_error(
            f"{path}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )


def _permission_string(value: object) -> str | None:
    """Discord stores and returns ``default_member_permissions`` as a string."""
    return None if value is None else str(value)


def check_options(options: list[Json], path: str) -> None:
    """≤25 unique options, required before optional, ≤25 choices of 1-100 characters."""
    if len(options) > 25:
        raise form_error(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    names = [option.get("name", "") for option in options]
    if len(set(names)) != len(names):
        raise form_error(
            path, "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
        )
    optional_seen = False
    for index, option in enumerate(options):
        where = f"{path}.{index}"
        _check_name(option.get("name", ""), where)
        _check_description(option.get("description", ""), where)
        if option.get("type") in (1, 2):
            check_options(option.get("options") or [], f"{where}.options")
            continue
        if option.get("required"):
            if optional_seen:
                raise form_error(
                    where,
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > 25:
            raise form_error(
                f"{where}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
            )
        for number, choice in enumerate(choices):
            if not 1 <= len(str(choice.get("name", ""))) <= 100:
                raise form_error(
                    f"{where}.choices.{number}.name", "BASE_TYPE_BAD_LENGTH", "1-100 characters"
                )


def check_command(command: Json, path: str) -> None:
    kind = command.get("type", 1)
    _check_name(command.get("name", ""), path, chat_input=kind == 1)
    if kind == 1:
        _check_description(command.get("description", ""), path)
    check_options(command.get("options") or [], f"{path}.options")


class CommandRoutes:
    """Global and guild application commands."""

    def __init__(self, rest: FakeRest) -> None:
        self.rest = rest
        self.state = rest.state

    def add_routes(self, app: web.Application) -> None:
        commands = f"{API}/applications/{{application_id}}/commands"
        guild_commands = f"{API}/applications/{{application_id}}/guilds/{{guild_id}}/commands"
        for base in (commands, guild_commands):
            app.add_routes(
                [
                    web.get(base, self.list_commands),
                    web.put(base, self.overwrite_commands),
                    web.post(base, self.upsert_command),
                    web.get(f"{base}/{{command_id}}", self.get_command),
                    web.patch(f"{base}/{{command_id}}", self.edit_command),
                    web.delete(f"{base}/{{command_id}}", self.delete_command),
                ]
            )

    def _scope(self, request: web.Request) -> int | None:
        self.rest.authorize(request)
        if int(request.match_info["application_id"]) != self.state.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "guild_id" not in request.match_info:
            return None
        guild_id = int(request.match_info["guild_id"])
        if guild_id not in self.state.guilds:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild_id

    def _stored(self, command: Json, guild_id: int | None, previous: Json | None) -> Json:
        stored = copy.deepcopy(command)
        stored.update(
            {
                "id": previous["id"] if previous else str(self.state.ids.next()),
                "application_id": str(self.state.application_id),
                "version": str(self.state.ids.next()),
                "type": command.get("type", 1),
                "description": command.get("description", ""),
                "default_member_permissions": _permission_string(
                    command.get("default_member_permissions")
                ),
                "dm_permission": command.get("dm_permission", True),
                "nsfw": command.get("nsfw", False),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types") or [0],
            }
        )
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        return stored

    @staticmethod
    def _same(a: Json, b: Json) -> bool:
        return bool(a["name"] == b["name"] and a.get("type", 1) == b.get("type", 1))

    async def list_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        return json_response(
            self.state.commands.get(scope, []), headers=self.rest.headers("commands")
        )

    async def overwrite_commands(self, request: web.Request) -> web.Response:
        body, _ = await self.rest.read_body(request)
        scope = self._scope(request)
        if not isinstance(body, list):
            raise form_error("_", "BASE_TYPE_ARRAY", "Must be an array.")
        for index, command in enumerate(body):
            check_command(command, str(index))
        keys = [(c.get("name"), c.get("type", 1)) for c in body]
        if len(set(keys)) != len(keys):
            raise form_error(
                "_", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Command names must be unique"
            )
        old = self.state.commands.get(scope, [])
        stored = [
            self._stored(c, scope, next((o for o in old if self._same(o, c)), None)) for c in body
        ]
        self.state.commands[scope] = stored
        self.state.notify()
        return json_response(stored, headers=self.rest.headers("commands"))

    async def upsert_command(self, request: web.Request) -> web.Response:
        body, _ = await self.rest.read_body(request)
        scope = self._scope(request)
        check_command(body or {}, "_")
        commands = self.state.commands.setdefault(scope, [])
        previous = next((c for c in commands if self._same(c, body)), None)
        stored = self._stored(body, scope, previous)
        if previous is not None:
            commands[commands.index(previous)] = stored
        else:
            commands.append(stored)
        self.state.notify()
        return json_response(
            stored, status=200 if previous else 201, headers=self.rest.headers("commands")
        )

    def _command(self, request: web.Request) -> tuple[int | None, Json]:
        scope = self._scope(request)
        wanted = request.match_info["command_id"]
        for command in self.state.commands.get(scope, []):
            if command["id"] == wanted:
                return scope, command
        raise ApiError(404, 10063, "Unknown application command")

    async def get_command(self, request: web.Request) -> web.Response:
        _, command = self._command(request)
        return json_response(command, headers=self.rest.headers("commands"))

    async def edit_command(self, request: web.Request) -> web.Response:
        body, _ = await self.rest.read_body(request)
        scope, command = self._command(request)
        merged = {**command, **(body or {})}
        check_command(merged, "_")
        stored = self._stored(merged, scope, command)
        commands = self.state.commands[scope]
        commands[commands.index(command)] = stored
        self.state.notify()
        return json_response(stored, headers=self.rest.headers("commands"))

    async def delete_command(self, request: web.Request) -> web.Response:
        scope, command = self._command(request)
        self.state.commands[scope].remove(command)
        self.state.notify()
        return no_content(self.rest.headers("commands"))
