"""A fake Telegram Bot API server on loopback, for driving the real python-telegram-bot.

It speaks the HTTP side of https://core.telegram.org/bots/api as PTB calls it
(``/bot<token>/<method>`` with form or multipart bodies, ``/file/bot<token>/<path>`` for
downloads) and behaves like Telegram where the adapter must cope:

- editing with identical text → 400 "message is not modified";
- editing a deleted message → 400 "message to edit not found";
- replying to a missing message without ``allow_sending_without_reply`` → 400;
- flood control (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this):
  ``sendMessage``/``editMessageText``/``sendVideo`` at most once per second in a private
  chat and 20 per minute in a group, else 429 with ``retry_after``; measured on an injectable clock;
- a chat the bot was removed from → 403; an oversized upload → 413 after the whole body;
- webhook mode: after ``setWebhook`` updates are POSTed to the bot (with the secret token
  header) instead of being returned by ``getUpdates``.

Tests script users by pushing updates (``push_message``, ``push_callback``) and read what
the bot did from ``calls``, ``videos`` and ``flood_hits``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

BOT_ID = 900001
BOT_USERNAME = "sora_test_bot"
TOKEN = "900001:TEST-token-not-real"
PRIVATE_INTERVAL = 1.0
GROUP_WINDOW, GROUP_MAX = 60.0, 20
COUNTED_FOR_FLOOD = frozenset({"sendMessage", "editMessageText", "sendVideo"})


@dataclass
class Upload:
    """One ``sendVideo`` as received: form fields and the size of each file part."""

    chat_id: int
    fields: dict[str, str]
    files: dict[str, int]
    message_id: int | None  # None when refused

    def file_size(self, name: str) -> int:
        """Size of the file sent as field ``name`` (directly or as ``attach://<part>``)."""
        if name in self.files:
            return self.files[name]
        reference = self.fields.get(name, "")
        return self.files.get(reference.removeprefix("attach://"), 0)

    def json_field(self, name: str) -> Any:
        value = self.fields.get(name)
        return json.loads(value) if value is not None else None


@dataclass
class FakeBotApi:
    clock: Callable[[], float] = time.monotonic
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # every attempt
    answered: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # the 200s
    videos: list[Upload] = field(default_factory=list)
    flood_hits: list[tuple[str, int]] = field(default_factory=list)
    members: dict[tuple[int, int], str] = field(default_factory=dict)  # status per chat, user
    files: dict[str, bytes] = field(default_factory=dict)  # file_id → content
    kicked: set[int] = field(default_factory=set)
    reject_next_videos: int = 0  # answer 413 to this many uploads
    fail_next_get_updates: int = 0  # answer 502 to this many polls (a Telegram restart)
    fail_next: dict[str, int] = field(default_factory=dict)  # method → 502s to answer first
    # webhook mode: set by setWebhook; updates are then POSTed there instead of polled
    webhook: dict[str, str] | None = None
    webhook_answers: list[int] = field(default_factory=list)  # HTTP status of each POST

    def __post_init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1000)
        )
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._flood: dict[int, deque[float]] = defaultdict(deque)
        self._new_update = asyncio.Event()
        self._activity = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._webhook_posts: set[asyncio.Task[None]] = set()
        self.url = ""

    # ------------------------------------------------------------------ lifetime

    async def __aenter__(self) -> FakeBotApi:
        app = web.Application(client_max_size=512 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ scripting

    def user(self, user_id: int, name: str, *, username: str | None = None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": name}
        if username:
            user["username"] = username
        user["language_code"] = "en"
        return user

    @staticmethod
    def private_chat(user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    @staticmethod
    def group_chat(chat_id: int, *, forum: bool = False) -> dict[str, Any]:
        return {"id": chat_id, "type": "supergroup", "title": "Group", "is_forum": forum}

    def push_message(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        text: str | None = None,
        *,
        reply_to: int | dict[str, Any] | None = None,
        thread: int | None = None,
        photo: bytes | None = None,
        document: tuple[bytes, str] | None = None,
        sender_chat: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue a user's message (a command if ``text`` starts with ``/``); returns it."""
        message_id = next(self._message_ids[chat["id"]])
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": user,
        }
        key = "caption" if photo is not None or document is not None else "text"
        if text is not None:
            message[key] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                entity = {"type": "bot_command", "offset": 0, "length": length}
                message["caption_entities" if key == "caption" else "entities"] = [entity]
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if sender_chat is not None:
            message["sender_chat"] = sender_chat
        if photo is not None:
            message["photo"] = [self._photo_size(photo, 90), self._photo_size(photo, 1280)]
        if document is not None:
            content, mime = document
            file_id = f"doc{len(self.files)}"
            self.files[file_id] = content
            message["document"] = {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "mime_type": mime,
                "file_size": len(content),
            }
        if isinstance(reply_to, int):
            message["reply_to_message"] = self._messages[(chat["id"], reply_to)]
        elif reply_to is not None:
            message["reply_to_message"] = reply_to
        self._messages[(chat["id"], message_id)] = message
        self._push({"message": message})
        return message

    def push_callback(self, user: dict[str, Any], chat_id: int, message_id: int, data: str) -> None:
        """A tap on an inline button of the bot's message ``message_id``."""
        query = {
            "id": f"cb{message_id}{len(self.calls)}",
            "from": user,
            "chat_instance": "1",
            "data": data,
            "message": self._messages[(chat_id, message_id)],
        }
        self._push({"callback_query": query})

    async def wait_for(self, condition: Callable[[], bool], *, within: float = 20.0) -> None:
        """Wait until ``condition`` holds, re-checking after every call the bot makes (PTB
        polls ``getUpdates`` at least twice a second, so state changes are seen soon)."""
        async with asyncio.timeout(within):
            while not condition():
                self._activity.clear()
                await self._activity.wait()

    async def next_activity(self) -> None:
        """Wait for the bot's next call (to re-check state the fake cannot see)."""
        self._activity.clear()
        await self._activity.wait()

    def delete(self, chat_id: int, message_id: int) -> None:
        self._deleted.add((chat_id, message_id))

    def sent(self, method: str, chat_id: int | None = None) -> list[dict[str, str]]:
        """The successful calls of ``method`` (to ``chat_id``), oldest first."""
        return [
            params
            for name, params in self.answered
            if name == method and (chat_id is None or params.get("chat_id") == str(chat_id))
        ]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return self._messages[(chat_id, message_id)]

    def bot_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages the bot has sent to ``chat_id``, oldest first (to reply to them)."""
        return [
            message
            for (chat, _), message in sorted(self._messages.items())
            if chat == chat_id and message["from"]["id"] == BOT_ID
        ]

    # ------------------------------------------------------------------ HTTP

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        fields, files = await _read_body(request)
        self.calls.append((method, fields))
        handler = getattr(self, f"_m_{method}", _m_accept)
        if self.fail_next.get(method):
            self.fail_next[method] -= 1
            return _error(502, "Bad Gateway")
        chat_id = int(fields["chat_id"]) if "chat_id" in fields else None
        if chat_id is not None and chat_id in self.kicked:
            return _error(403, "Forbidden: bot was kicked from the supergroup chat")
        if method in COUNTED_FOR_FLOOD and chat_id is not None:
            wait = self._flood_wait(chat_id)
            if wait:
                self.flood_hits.append((method, chat_id))
                return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        result: web.Response = await handler(fields, files)
        if result.status == 200:
            self.answered.append((method, fields))
        self._activity.set()
        return result

    def _flood_wait(self, chat_id: int) -> int:
        now, stamps = self.clock(), self._flood[chat_id]
        window, limit = (PRIVATE_INTERVAL, 1) if chat_id > 0 else (GROUP_WINDOW, GROUP_MAX)
        while stamps and now - stamps[0] >= window - 1e-9:
            stamps.popleft()
        if len(stamps) >= limit:
            return max(1, round(window - (now - stamps[0])))
        stamps.append(now)
        return 0

    async def _file(self, request: web.Request) -> web.Response:
        content = self.files.get(request.match_info["path"])
        if content is None:
            return web.Response(status=404)
        return web.Response(body=content)

    # ------------------------------------------------------------------ methods

    async def _m_getMe(self, fields: dict[str, str], files: dict[str, bytes]) -> web.Response:
        me = {"id": BOT_ID, "is_bot": True, "first_name": "Sora", "username": BOT_USERNAME}
        me |= {"can_join_groups": True, "can_read_all_group_messages": False}
        me |= {"supports_inline_queries": False}
        return _ok(me)

    async def _m_getUpdates(self, fields: dict[str, str], files: dict[str, bytes]) -> web.Response:
        if self.fail_next_get_updates:
            self.fail_next_get_updates -= 1
            return _error(502, "Bad Gateway")
        offset = int(fields.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            timeout = min(float(fields.get("timeout") or 0), 0.5)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        return _ok(list(self._updates))

    async def _m_sendMessage(self, fields: dict[str, str], files: dict[str, bytes]) -> web.Response:
        chat_id = int(fields["chat_id"])
        refusal = self._check_reply(chat_id, fields)
        if refusal is not None:
            return refusal
        return _ok(self._store_bot_message(chat_id, fields, {"text": fields["text"]}))

    async def _m_editMessageText(
        self, fields: dict[str, str], files: dict[str, bytes]
    ) -> web.Response:
        key = (int(fields["chat_id"]), int(fields["message_id"]))
        if key in self._deleted or key not in self._messages:
            return _error(400, "Bad Request: message to edit not found")
        message = self._messages[key]
        if message.get("text") == fields["text"] and "reply_markup" not in fields:
            return _error(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message["text"] = fields["text"]
        return _ok(message)

    async def _m_sendVideo(self, fields: dict[str, str], files: dict[str, bytes]) -> web.Response:
        chat_id = int(fields["chat_id"])
        upload = Upload(chat_id, fields, {k: len(v) for k, v in files.items()}, None)
        self.videos.append(upload)
        if self.reject_next_videos:
            self.reject_next_videos -= 1
            return _error(413, "Request Entity Too Large")
        refusal = self._check_reply(chat_id, fields)
        if refusal is not None:
            return refusal
        video = {
            "file_id": f"vid{len(self.videos)}",
            "file_unique_id": f"uvid{len(self.videos)}",
            "width": int(fields.get("width") or 0),
            "height": int(fields.get("height") or 0),
            "duration": int(fields.get("duration") or 0),
        }
        extra: dict[str, Any] = {"video": video}
        if "caption" in fields:
            extra["caption"] = fields["caption"]
        message = self._store_bot_message(chat_id, fields, extra)
        upload.message_id = message["message_id"]
        return _ok(message)

    async def _m_getChatMember(
        self, fields: dict[str, str], files: dict[str, bytes]
    ) -> web.Response:
        user_id = int(fields["user_id"])
        status = self.members.get((int(fields["chat_id"]), user_id), "member")
        member: dict[str, Any] = {"status": status, "user": self.user(user_id, f"u{user_id}")}
        if status in ("administrator", "creator"):
            member |= {"is_anonymous": False, "can_be_edited": False}
            for right in _ADMIN_RIGHTS:
                member[right] = True
        return _ok(member)

    async def _m_getFile(self, fields: dict[str, str], files: dict[str, bytes]) -> web.Response:
        file_id = fields["file_id"]
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": file_id,
            }
        )

    # ------------------------------------------------------------------ helpers

    def _push(self, body: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), **body}
        if self.webhook is not None:  # like Telegram: a webhook replaces getUpdates
            task = asyncio.get_running_loop().create_task(self.post_to_webhook(update))
            self._webhook_posts.add(task)
            task.add_done_callback(self._webhook_posts.discard)
            return
        self._updates.append(update)
        self._new_update.set()

    async def post_to_webhook(self, update: dict[str, Any], *, secret: str | None = None) -> int:
        """POST ``update`` to the registered webhook as Telegram does (with the secret
        header unless another ``secret`` is given); returns and records the HTTP status."""
        assert self.webhook is not None, "no webhook registered"
        token = self.webhook.get("secret_token", "") if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": token} if token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook["url"], json=update, headers=headers) as answer,
        ):
            self.webhook_answers.append(answer.status)
        self._activity.set()
        return answer.status

    async def _m_setWebhook(self, fields: dict[str, str], files: dict[str, bytes]) -> web.Response:
        self.webhook = dict(fields)
        return _ok(True)

    async def _m_deleteWebhook(
        self, fields: dict[str, str], files: dict[str, bytes]
    ) -> web.Response:
        self.webhook = None
        return _ok(True)

    def _photo_size(self, content: bytes, width: int) -> dict[str, Any]:
        file_id = f"photo{len(self.files)}w{width}"
        self.files[file_id] = content
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "width": width,
            "height": width,
            "file_size": len(content),
        }

    def _check_reply(self, chat_id: int, fields: dict[str, str]) -> web.Response | None:
        params = json.loads(fields.get("reply_parameters") or "null")
        if params is None:
            return None
        key = (chat_id, int(params["message_id"]))
        if (key in self._deleted or key not in self._messages) and not params.get(
            "allow_sending_without_reply"
        ):
            return _error(400, "Bad Request: message to be replied not found")
        return None

    def _store_bot_message(
        self, chat_id: int, fields: dict[str, str], extra: dict[str, Any]
    ) -> dict[str, Any]:
        message_id = next(self._message_ids[chat_id])
        chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Sora", "username": BOT_USERNAME},
            **extra,
        }
        if "message_thread_id" in fields:
            message["message_thread_id"] = int(fields["message_thread_id"])
            message["is_topic_message"] = True
        if "reply_markup" in fields:
            message["reply_markup"] = json.loads(fields["reply_markup"])
        self._messages[(chat_id, message_id)] = message
        return message


async def _m_accept(fields: dict[str, str], files: dict[str, bytes]) -> web.Response:
    """Methods the fake only records (setMyCommands, answerCallbackQuery, deleteWebhook…)."""
    return _ok(True)


_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)


async def _read_body(request: web.Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """Form fields as strings and file parts as bytes (PTB sends multipart for uploads)."""
    fields: dict[str, str] = dict(request.query)
    files: dict[str, bytes] = {}
    if request.content_type == "application/json":
        data = await request.json()
        for name, value in data.items():
            fields[name] = value if isinstance(value, str) else json.dumps(value)
        return fields, files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = value.file.read()
        else:
            fields[name] = str(value)
    return fields, files


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, *, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
