"""Chat-format streams for the abuse suite: the real ones, how to cut them, how to read them.

``read`` runs bytes through the chain ``ChatProvider`` uses (httpx's incremental UTF-8
decoding, ``iter_sse_lines``, ``iter_sse_json``, the provider's ``_Answer`` with its two
transcript parsers) and returns everything it made of them as one comparable ``Outcome``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from hypothesis import strategies as st

from bot.errors import ProviderError
from bot.models import GenerationRequest, ProviderEvent
from bot.providers.chat import ChatProvider, _Answer
from bot.providers.simulator import Simulator
from bot.providers.sse import iter_sse_json, iter_sse_lines
from tests.relay_fakes import FakeTime, drive, provider_config

FIXTURES = Path("/work/shared/fixtures")
SSE_HEADERS = {"content-type": "text/event-stream"}
# the simulator's prompts: its two variants, each way a stream can end badly
SIMULATED = {
    "sim-A": ("A", "一只猫在冲浪 @everyone"),
    "sim-B": ("B", "a cat surfing 🏄"),
    "sim-A-failed": ("A", "牛马 [sim:moderation]"),
    "sim-B-failed": ("B", "a cat [sim:moderation]"),
    "sim-A-error": ("A", "a cat [sim:error_in_stream]"),
    "sim-A-cut": ("A", "a cat [sim:cut_stream]"),
}


@dataclass(frozen=True)
class Outcome:
    """Everything the reader made of one stream."""

    events: tuple[ProviderEvent, ...]
    task_id: str | None
    sid: str | None
    video_url: str | None
    preview_url: str | None
    done: bool
    failure: str | None
    error: tuple[str, str, str | None] | None  # category, message, upstream id
    transcript: str


def pieces(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``body`` cut at ``cuts`` (a repeated cut gives an empty piece)."""
    edges = [0, *sorted(cuts), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


async def _aiter(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def _read(chunks: list[bytes]) -> Outcome:
    response = httpx.Response(200, content=_aiter(chunks), headers=SSE_HEADERS)
    answer, events, error = _Answer(), [], None
    try:
        async for payload in iter_sse_json(iter_sse_lines(response.aiter_text())):
            events.extend(answer.absorb(payload))
    except ProviderError as exc:
        error = (exc.category.value, exc.message, exc.upstream_id)
    state = answer.state(final=True)
    return Outcome(
        tuple(events),
        state.task_id,
        state.sid,
        state.video_url,
        state.preview_url,
        state.done,
        state.failure,
        error,
        answer.transcript,
    )


def read(body: bytes, cuts: Iterable[int] = ()) -> Outcome:
    """The outcome of ``body`` delivered in pieces cut at ``cuts``."""
    return asyncio.run(_read(pieces(body, cuts)))


async def generate(chunks: list[bytes], mp4: bytes, workdir: Path) -> list[ProviderEvent]:
    """Every event of one job through ``ChatProvider.generate``, the relay answering
    ``chunks`` as its stream and ``mp4`` for any other URL (the video link)."""

    def relay(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions"):
            return httpx.Response(200, content=_aiter(chunks), headers=SSE_HEADERS)
        return httpx.Response(200, content=mp4, headers={"content-type": "video/mp4"})

    config = provider_config("chatrelay", "chat", "sk-abuse-0123456789abcdef", models=["sora-2"])
    request = GenerationRequest(prompt="牛马跳舞", model="sora-2", seconds=10)
    return await drive(ChatProvider, config, workdir, request, handler=relay)


def sse_body(deltas: Iterable[str], *, field: str = "content", newline: str = "\n") -> bytes:
    """One compact ``chat.completion.chunk`` event per delta, then ``[DONE]``."""
    events = [{"choices": [{"delta": {field: delta}}]} for delta in deltas]
    lines = [f"data: {json.dumps(e, ensure_ascii=False)}{newline}{newline}" for e in events]
    return ("".join(lines) + f"data: [DONE]{newline}{newline}").encode()


# --------------------------------------------------------------------------- the streams


async def _record(variant: str, prompt: str) -> bytes:
    """One answer of the simulator (on fake time), byte for byte as it left the server."""
    fake = FakeTime()
    with tempfile.TemporaryDirectory() as media:
        async with Simulator(
            Path(media), chat_variant=variant, clock=fake.clock, sleep=fake.sleep, seed=7
        ) as sim:
            body = {
                "model": "sim-video",
                "stream": True,
                "messages": [{"role": "user", "content": f"{prompt}\n\n生成视频比例9:16"}],
            }
            headers = {"Authorization": "Bearer sim-key"}
            url = f"{sim.base_url}/chat/completions"
            async with (
                httpx.AsyncClient() as client,
                client.stream("POST", url, json=body, headers=headers) as response,
            ):
                return b"".join([chunk async for chunk in response.aiter_raw()])


def real_streams() -> dict[str, bytes]:
    """Seed 002 (LF, CRLF, CR; compact and its pretty-printed doc example) and the
    simulator's answers, recorded now."""
    seed = (FIXTURES / "seed002-stream.sse").read_bytes()
    return {
        "seed002": seed,
        "seed002-crlf": seed.replace(b"\n", b"\r\n"),
        "seed002-cr": seed.replace(b"\n", b"\r"),
        "seed002-doc": (FIXTURES / "seed002-doc-example.txt").read_bytes(),
        **{name: asyncio.run(_record(*how)) for name, how in SIMULATED.items()},
    }


# --------------------------------------------------------------------------- cuts and junk


def awkward_cuts(body: bytes) -> list[int]:
    """Cut positions that hurt: inside UTF-8 sequences, between CR and LF, inside data:."""
    inside_utf8 = [i for i, byte in enumerate(body) if 0x80 <= byte < 0xC0]
    inside_crlf = [i + 1 for i in range(len(body) - 1) if body[i : i + 2] == b"\r\n"]
    inside_data = [i + k for i in _find_all(body, b"data:") for k in range(1, 5)]
    return sorted(set(inside_utf8 + inside_crlf + inside_data))


def _find_all(body: bytes, needle: bytes) -> Iterator[int]:
    position = body.find(needle)
    while position >= 0:
        yield position
        position = body.find(needle, position + 1)


def cuts_for(body: bytes) -> st.SearchStrategy[list[int]]:
    """Up to 60 cuts anywhere plus up to 60 awkward ones."""
    awkward = awkward_cuts(body)
    anywhere = st.lists(st.integers(0, len(body)), max_size=60)
    forced = st.lists(st.sampled_from(awkward), max_size=60) if awkward else st.just([])
    return st.builds(lambda a, b: a + b, anywhere, forced)


def with_lines(body: bytes, extra: list[tuple[int, str]], *, between_events: bool) -> bytes:
    """``body`` with each extra line inserted at its index (modulo the places): between
    events (before an event's ``data:`` line) or between any two lines."""
    newline = b"\r\n" if b"\r\n" in body else b"\n"
    separator = newline * 2 if between_events else newline
    parts = body.split(separator)
    for index, line in sorted(extra, reverse=True):
        parts.insert(index % (len(parts) + 1), line.encode())
    return separator.join(parts)


def parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
