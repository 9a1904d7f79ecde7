"""A terminal platform: the same core, driven by typed lines, for ``sora-bot demo``.

Every bot message gets a number; ``>N text`` replies to message N (a status or a result),
which continues that job, exactly like a reply on Telegram or Discord. Status edits are
printed as new lines (a terminal log cannot edit earlier lines), and videos are copied
into the output folder.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sys
from pathlib import Path
from typing import TextIO

from bot.models import (
    Capabilities,
    Conversation,
    Invocation,
    MessageRef,
    Platform,
    UserRef,
    VideoFile,
)

CONSOLE = Conversation(platform=Platform.CONSOLE, scope="console", channel="console")
HELP = (
    "console: /sora [--model M] [--seconds N] [--landscape] PROMPT  |  >N TEXT (reply to "
    "message N: remix)  |  /again N  |  /quota [...]  |  /as NAME (switch user)  |  /help  |  /exit"
)


class ConsoleOutbox:
    """The ``Outbox`` of a terminal: prints, and saves videos to ``media_out``."""

    def __init__(
        self,
        out: TextIO,
        media_out: Path,
        *,
        upload_limit_bytes: int = 50 * 1024 * 1024,
        edit_interval: float = 0.5,
    ) -> None:
        self._out = out
        self._media_out = media_out
        self._ids = itertools.count(1)
        self._caps = Capabilities(
            upload_limit_bytes=upload_limit_bytes,
            text_limit=4096,
            caption_limit=1024,
            edit_interval=edit_interval,
            buttons=False,
            markup="plain",
        )
        self.saved: list[Path] = []
        self.last_video: str | None = None  # message number of the latest video

    def capabilities(self, conversation: Conversation) -> Capabilities:
        return self._caps

    async def send_status(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        ref = self._new(conversation)
        self._print(ref, text)
        return ref

    async def edit_status(self, message: MessageRef, text: str) -> None:
        self._print(message, text)

    async def send_video(
        self,
        conversation: Conversation,
        video: VideoFile,
        *,
        caption: str,
        thumbnail: Path | None,
        reply_to: MessageRef | None,
        job_id: str,
        buttons: bool,
        in_place_of: MessageRef | None = None,
    ) -> MessageRef:
        ref = self._new(conversation)
        self._media_out.mkdir(parents=True, exist_ok=True)
        target = self._media_out / f"sora-{job_id}.mp4"
        await asyncio.to_thread(shutil.copyfile, video.path, target)
        self.saved.append(target)
        self.last_video = ref.message_id
        self._print(
            ref,
            f"🎬 {caption}\n   saved {target} ({video.width}x{video.height}, "
            f"{video.duration:.1f} s) — reply with '>{ref.message_id} <change>' to remix",
        )
        return ref

    async def send_text(
        self, conversation: Conversation, text: str, *, reply_to: MessageRef | None
    ) -> MessageRef:
        ref = self._new(conversation)
        self._print(ref, text)
        return ref

    def _new(self, conversation: Conversation) -> MessageRef:
        return MessageRef(conversation, str(next(self._ids)))

    def _print(self, ref: MessageRef, text: str) -> None:
        body = " · ".join(line.strip() for line in text.splitlines() if line.strip())
        self._out.write(f"  [#{ref.message_id}] {body}\n")
        self._out.flush()


def _quota_target(text: str) -> dict[str, str]:
    """On a terminal every name is a user: ``/quota add alice 2`` targets ``alice``."""
    words = text.split()
    if len(words) >= 2 and words[0] in ("show", "set", "add", "reset", "history"):
        name = words[1].lstrip("@")
        return {"target_id": name, "target_name": name}
    return {}


class ConsoleSession:
    """Turns typed lines into invocations for the core, as one user at a time."""

    def __init__(
        self, handle, out: TextIO, *, user: str = "you", moderators: frozenset[str] = frozenset()
    ) -> None:  # type: ignore[no-untyped-def]
        self._handle = handle
        self._out = out
        self.user = user
        self._moderators = moderators

    async def submit(self, line: str) -> bool:
        """Handle one line; False when the user asked to leave."""
        line = line.strip()
        if not line:
            return True
        invocation = self._parse(line)
        if invocation is None:
            return line not in ("/exit", "/quit")
        reply = await self._handle(invocation)
        if reply is not None:
            self._out.write(f"  bot: {reply.text}\n")
            self._out.flush()
        return True

    def _parse(self, line: str) -> Invocation | None:
        if line in ("/exit", "/quit"):
            return None
        if line.startswith("/as "):
            self.user = line[4:].strip() or self.user
            self._out.write(f"  (you are now {self.user})\n")
            return None
        command, text, reply_to, options = "sora", line, None, {}
        if line.startswith(">"):
            number, _, text = line[1:].partition(" ")
            command, reply_to = "continue", MessageRef(CONSOLE, number.strip())
        elif line.startswith("/"):
            word, _, text = line[1:].partition(" ")
            command = word.lower()
            if command == "again":
                command, reply_to, text = "again", MessageRef(CONSOLE, text.strip()), ""
        else:
            self._out.write(f"  {HELP}\n")
            return None
        if command == "quota":
            options = _quota_target(text)
        return Invocation(
            user=UserRef(Platform.CONSOLE, self.user, display_name=self.user),
            conversation=CONSOLE,
            text=text.strip(),
            command=command,
            is_moderator=self.user in self._moderators,
            options=options,
            reply_to=reply_to,
        )

    async def repl(self, stdin: TextIO = sys.stdin) -> None:
        self._out.write(f"  {HELP}\n")
        while True:
            self._out.write(f"{self.user}> ")
            self._out.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                return
            if not await self.submit(line):
                return
