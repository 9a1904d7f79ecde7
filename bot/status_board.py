"""One board per process through which every status message is posted and edited.

Chat platforms punish bots that edit too often (Telegram: about one message per second per
chat and 20 per minute in groups, then ``RetryAfter`` waits of minutes; Discord: about five
edits per five seconds per channel), and they count every job in a chat together. So:

- each chat (platform + channel) has one budget: at most one call per
  ``Capabilities.edit_interval`` seconds, shared by all jobs, by new status posts and by
  the result videos and notices sent in their turn (``take_turn``);
- only the latest wanted text of a message is kept; stale progress is dropped, never queued;
- with ``Capabilities.message_interval``, progress of one message also waits that long after
  its previous edit (Discord: one edit per 2 s per job); phase changes and finals do not;
- final texts go first, then phase changes (``urgent``), then progress, oldest wish first;
- an identical text is never sent twice to a message (Telegram rejects it);
- ``PlatformRateLimited`` pushes the chat's next slot back and the edit is retried later with
  whatever is latest by then; ``MessageGone`` retires the message (the job carries on);
  any other failure is logged and does not stop the board.

One asyncio task per busy chat does the edits; it starts on demand and ends when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from bot.errors import MessageGone, PlatformRateLimited
from bot.models import Conversation, MessageRef, Platform
from bot.ports import Outbox

log = logging.getLogger(__name__)

RANK_FINAL: Final = 0
RANK_URGENT: Final = 1
RANK_PROGRESS: Final = 2
MAX_POST_ATTEMPTS: Final = 3  # a status post rate-limited this often is given up
MAX_FINAL_ATTEMPTS: Final = 3  # a final text failing for unknown reasons this often is given up
MAX_RATE_LIMITED_FINAL: Final = 5  # ... or refused for flooding this often
RETIRED_MEMORY: Final = 4096  # finished or gone messages remembered, to ignore late updates

ChatKey = tuple[Platform, str]


# A text, or a function that renders it. Rendering lazily matters when many jobs change
# at once (every queued job moves up when one finishes): only the edits the budget lets
# through are rendered.
Text = str | Callable[[], str]


@dataclass(eq=False, slots=True)
class _Message:
    """What the board knows of one status message."""

    ref: MessageRef
    shown: str | None = None  # the text currently on the platform, as far as we know
    # the latest text to show (or a function rendering it when its turn comes); None when
    # nothing is pending
    wanted: Text | None = None
    in_flight: str | None = None  # the text of the edit being sent right now
    rank: int = RANK_PROGRESS
    since: int = 0  # when it started waiting (a sequence number): oldest wish goes first
    final: bool = False
    failures: int = 0
    not_before: float = float("-inf")  # progress edits wait until then (message_interval)
    waiters: list[asyncio.Future[bool]] = field(default_factory=list)


@dataclass(eq=False, slots=True)
class _Chat:
    """One chat's budget and its pending edits."""

    key: ChatKey
    next_slot: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: dict[MessageRef, _Message] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None


class StatusBoard:
    """Posts and edits status messages within each chat's edit budget (module docstring)."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[ChatKey, _Chat] = {}
        self._messages: dict[MessageRef, _Message] = {}
        # finished (last text) or gone (None) messages; later updates are ignored
        self._retired: OrderedDict[MessageRef, str | None] = OrderedDict()
        self._order = itertools.count()
        self._closed = False

    # ------------------------------------------------------------------ public interface

    async def post(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef | None:
        """Send a new status message in its turn; ``None`` if the platform refused it."""
        chat = self._chat(conversation)
        async with chat.lock:
            for _ in range(MAX_POST_ATTEMPTS):
                if self._closed:
                    return None
                await self._wait_for_slot(chat)
                try:
                    ref = await self._outbox.send_status(conversation, text, reply_to=reply_to)
                except PlatformRateLimited as exc:
                    self._push_back(chat, conversation, exc.retry_after)
                    continue
                except MessageGone:
                    self._spend_slot(chat, conversation)
                    return None
                except Exception:
                    log.exception("posting a status message failed")
                    self._spend_slot(chat, conversation)
                    return None
                self._spend_slot(chat, conversation)
                self._messages[ref] = _Message(
                    ref, shown=text, not_before=self._message_slot(conversation)
                )
                return ref
        return None

    def update(self, message: MessageRef, text: Text, *, urgent: bool = False) -> None:
        """Wish ``message`` to show ``text`` soon; ``urgent`` for a phase change. Never blocks.

        ``text`` may be a function: it is called only when the edit is about to be sent."""
        if self._closed or message in self._retired:
            return
        entry = self._entry(message)
        if not entry.final:
            self._want(entry, text, RANK_URGENT if urgent else RANK_PROGRESS)

    async def finish(self, message: MessageRef, text: str) -> bool:
        """Show the final ``text``, waiting for a turn; ``False`` if the message is gone."""
        if self._closed:
            return False
        if self.is_gone(message):
            return False
        if message in self._retired:  # finished before: a new final text replaces the old one
            self._messages[message] = _Message(message, shown=self._retired.pop(message))
        entry = self._entry(message)
        entry.final = True
        self._want(entry, text, RANK_FINAL)
        if entry.wanted is None and entry.in_flight is None:
            self._settle(entry, landed=True)
            return True
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry.waiters.append(waiter)
        try:
            return await waiter
        finally:
            with contextlib.suppress(ValueError):
                entry.waiters.remove(waiter)

    @contextlib.asynccontextmanager
    async def turn(self, conversation: Conversation) -> AsyncIterator[None]:
        """Hold the chat's next slot while sending a message outside the board (a result
        video, a notice): platforms count those against the same flood limit as status
        edits, at the moment they arrive, so the slot is spent when the send ends and no
        status edit of the chat goes out while an upload is under way."""
        chat = self._chat(conversation)
        async with chat.lock:
            await self._wait_for_slot(chat)
            try:
                yield
            finally:
                self._spend_slot(chat, conversation)

    def release(self, message: MessageRef) -> None:
        """The message becomes something else (the result video edited into it): drop its
        pending edits and ignore later updates. Call it inside the chat's ``turn``, where
        no edit of the chat is in flight. A later ``finish`` (the delivery failed after
        all) takes the message back."""
        entry = self._messages.get(message)
        if entry is not None:
            self._chat(message.conversation).pending.pop(message, None)
            entry.wanted = None
            self._settle(entry, landed=True)
        elif message not in self._retired:
            self._retire(message, None if self.is_gone(message) else "")

    def rate_limited(self, conversation: Conversation, retry_after: float) -> None:
        """The platform refused a send outside the board for flooding: push the chat back."""
        self._push_back(self._chat(conversation), conversation, retry_after)

    def is_gone(self, message: MessageRef) -> bool:
        """Whether the platform said this message no longer exists."""
        return message in self._retired and self._retired[message] is None

    async def drain(self) -> None:
        """Wait until every pending edit has been sent or dropped (tests, shutdown)."""
        while workers := [c.worker for c in self._chats.values() if c.worker is not None]:
            await asyncio.gather(*workers, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop all workers; pending ``finish`` calls return ``False``."""
        self._closed = True
        workers = [c.worker for c in self._chats.values() if c.worker is not None]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for entry in list(self._messages.values()):
            self._resolve(entry, landed=False)
        self._messages.clear()
        self._chats.clear()

    # ------------------------------------------------------------------ bookkeeping

    def _chat(self, conversation: Conversation) -> _Chat:
        key = (conversation.platform, conversation.channel)
        chat = self._chats.get(key)
        if chat is None:
            chat = self._chats[key] = _Chat(key)
        return chat

    def _entry(self, message: MessageRef) -> _Message:
        entry = self._messages.get(message)
        if entry is None:
            entry = self._messages[message] = _Message(message)
        return entry

    def _want(self, entry: _Message, text: Text, rank: int) -> None:
        """Make ``text`` the message's latest wish, or cancel the wish if it is on screen.

        While an edit is in flight the wish is kept even if equal to it: that edit may fail.
        """
        chat = self._chat(entry.ref.conversation)
        if entry.in_flight is None and isinstance(text, str) and text == entry.shown:
            entry.wanted = None
            chat.pending.pop(entry.ref, None)
            return
        if entry.wanted is None:
            entry.since, entry.rank = next(self._order), rank
        else:
            entry.rank = min(entry.rank, rank)
        entry.wanted = text
        chat.pending[entry.ref] = entry
        if chat.worker is None:
            chat.worker = asyncio.get_running_loop().create_task(
                self._work(chat), name=f"status-board:{chat.key[0]}:{chat.key[1]}"
            )

    def _retire(self, message: MessageRef, last_text: str | None) -> None:
        self._messages.pop(message, None)
        self._retired[message] = last_text
        self._retired.move_to_end(message)
        while len(self._retired) > RETIRED_MEMORY:
            self._retired.popitem(last=False)

    def _settle(self, entry: _Message, *, landed: bool) -> None:
        """A final text landed (or never will): wake its waiters and retire the message."""
        self._resolve(entry, landed=landed)
        self._retire(entry.ref, entry.shown if landed else None)

    @staticmethod
    def _resolve(entry: _Message, *, landed: bool) -> None:
        for waiter in entry.waiters:
            if not waiter.done():
                waiter.set_result(landed)

    # ------------------------------------------------------------------ the budget

    async def _wait_for_slot(self, chat: _Chat) -> None:
        while (delay := chat.next_slot - self._clock()) > 0:
            await self._sleep(delay)

    def _spend_slot(self, chat: _Chat, conversation: Conversation) -> None:
        interval = self._outbox.capabilities(conversation).edit_interval
        chat.next_slot = max(chat.next_slot, self._clock() + interval)

    def _message_slot(self, conversation: Conversation) -> float:
        """When a message just sent or edited may next show progress."""
        return self._clock() + self._outbox.capabilities(conversation).message_interval

    def _push_back(self, chat: _Chat, conversation: Conversation, retry_after: float) -> None:
        log.warning("chat %s:%s rate limited for %.1fs", *chat.key, retry_after)
        self._spend_slot(chat, conversation)
        chat.next_slot = max(chat.next_slot, self._clock() + retry_after)

    async def _work(self, chat: _Chat) -> None:
        """Send the most important pending edit of ``chat`` in each slot until none is left."""
        try:
            while chat.pending and not self._closed:
                pause = 0.0
                async with chat.lock:
                    await self._wait_for_slot(chat)
                    now = self._clock()
                    due = [
                        e
                        for e in chat.pending.values()
                        if e.rank < RANK_PROGRESS or e.not_before <= now
                    ]
                    if due:
                        await self._edit(chat, min(due, key=lambda e: (e.rank, e.since)))
                    elif chat.pending:  # only progress of messages edited a moment ago
                        pause = min(e.not_before for e in chat.pending.values()) - now
                if pause > 0:
                    await self._sleep(pause)
        except Exception:  # a bug here must not leave finish() callers waiting forever
            log.exception("status board worker for %s:%s crashed", *chat.key)
            for entry in list(chat.pending.values()):
                self._resolve(entry, landed=False)
            chat.pending.clear()
        finally:
            chat.worker = None

    async def _edit(self, chat: _Chat, entry: _Message) -> None:
        wish = entry.wanted
        text = wish() if callable(wish) else wish
        if text is None or text == entry.shown:  # on screen already (an earlier edit landed)
            chat.pending.pop(entry.ref, None)
            entry.wanted = None
            if entry.final:
                self._settle(entry, landed=True)
            return
        conversation = entry.ref.conversation
        entry.in_flight = text
        try:
            await self._outbox.edit_status(entry.ref, text)
        except PlatformRateLimited as exc:
            self._push_back(chat, conversation, exc.retry_after)
            if entry.final:
                # a final text is retried, but not forever: finish() must return (False
                # lets the job tell the user another way)
                entry.failures += 1
                if entry.failures >= MAX_RATE_LIMITED_FINAL:
                    self._drop(chat, entry)
            return  # still pending: retried in the next slot with the then-latest text
        except MessageGone:
            self._spend_slot(chat, conversation)
            chat.pending.pop(entry.ref, None)
            entry.wanted = None
            self._settle(entry, landed=False)
            return
        except Exception:
            log.exception("editing a status message failed")
            self._spend_slot(chat, conversation)
            entry.failures += 1
            if not entry.final or entry.failures >= MAX_FINAL_ATTEMPTS:
                self._drop(chat, entry)
            return
        finally:
            entry.in_flight = None
        self._spend_slot(chat, conversation)
        entry.shown = text
        entry.not_before = self._message_slot(conversation)
        if entry.wanted is wish:
            entry.wanted = None
            chat.pending.pop(entry.ref, None)
            if entry.final:
                self._settle(entry, landed=True)

    def _drop(self, chat: _Chat, entry: _Message) -> None:
        """Give up on the pending wish after an unexplained failure."""
        chat.pending.pop(entry.ref, None)
        entry.wanted = None
        if entry.final:
            self._settle(entry, landed=False)
