"""Regression: the Telegram outbox streams a video from disk instead of reading it whole.

python-telegram-bot reads an open file handle into memory unless it is wrapped in
``InputFile(..., read_file_handle=False)``; a 200 MB upload then raised the bot's RSS by
590 MB (``bench/transfer.py``, docs/performance.md). Streamed, the rise is nil.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from telegram import InputFile

from adapters.telegram.outbox import TelegramOutbox
from bot.models import Conversation, Platform, VideoFile


class RecordingBot:
    """Stands in for ``telegram.Bot``: answers ``send_video`` and notes what it was given."""

    def __init__(self) -> None:
        self.video: Any = None
        self.bytes_read = b""

    async def send_video(self, **kwargs: Any) -> Any:
        self.video = kwargs["video"]
        # the handle must still be open and unread while the request is made
        self.bytes_read = self.video.input_file_content.read()
        return type("Sent", (), {"message_id": 7})()


async def test_the_video_goes_out_as_an_unread_file_handle(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"x" * 100_000)
    video = VideoFile(path, path.stat().st_size, 1.0, 64, 112, has_audio=False)
    bot = RecordingBot()
    outbox = TelegramOutbox(bot, upload_limit_mb=50)  # type: ignore[arg-type]

    ref = await outbox.send_video(
        Conversation(Platform.TELEGRAM, "direct", "42"),
        video,
        caption="a cat",
        thumbnail=None,
        reply_to=None,
        job_id="j1",
        buttons=False,
    )

    assert ref.message_id == "7"
    assert isinstance(bot.video, InputFile)
    assert not isinstance(bot.video.input_file_content, bytes)  # not read into memory
    assert bot.video.filename == "sora-j1.mp4" and bot.video.mimetype == "video/mp4"
    assert bot.bytes_read == path.read_bytes()
