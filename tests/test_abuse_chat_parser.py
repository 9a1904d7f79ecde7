"""Abuse suite: the ``chat`` format's stream reader against every way bytes can arrive.

Real streams — seed 002 as a wire carries it (LF, CRLF and CR line ends), its pretty-
printed documentation example, and the simulator's variant A and B answers (success,
failure marker, error event, cut stream) recorded once per module — are cut into random
pieces, with cuts forced inside multi-byte UTF-8 characters, inside ``\\r\\n`` and inside
``data:`` (``tests/abuse_streams.py``). Whatever the cuts, the reader (as ``ChatProvider``
chains it) must yield the same events (task id, queue, progress sequence), the same final
link, preview and ``sid``, and the same failure. Harmless junk lines between events change
nothing; any junk at all never crashes it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Accepted, Completed, Progress, Queued
from bot.providers.chat_parser import parse_transcript
from tests.abuse_strategies import ANY_CHARACTER, nasty_text
from tests.abuse_streams import (
    FIXTURES,
    Outcome,
    cuts_for,
    generate,
    parses,
    pieces,
    read,
    real_streams,
    sse_body,
    with_lines,
)

SEED_TASK = "task_01k7e5w9z5f2d91pekrqy59rwc"
SEED_SID = "s_68eca3f141808191b1fd30fea1b731bd"
SEED_VIDEO = "https://example.com/?video-file=2"
COMPACT = ("seed002", "seed002-crlf", "sim-A", "sim-B", "sim-A-failed", "sim-B-failed")
COMPACT += ("sim-A-error", "sim-A-cut")


@pytest.fixture(scope="module")
def streams() -> dict[str, bytes]:
    return real_streams()


@pytest.fixture(scope="module")
def references(streams: dict[str, bytes]) -> dict[str, Outcome]:
    """Each stream read in one piece: what every other split must give."""
    return {name: read(body) for name, body in streams.items()}


# --------------------------------------------------------------------------- the properties


def test_the_streams_say_what_they_should(references: dict[str, Outcome]) -> None:
    """The references are right, so "the same as the reference" means "right"."""
    seed = references["seed002"]
    assert seed.events == (
        Accepted(SEED_TASK),
        Queued(),
        *(Progress(p) for p in (36, 44, 61, 69, 81)),
    )
    assert (seed.task_id, seed.sid, seed.video_url) == (SEED_TASK, SEED_SID, SEED_VIDEO)
    expected = (FIXTURES / "seed002-assistant-content.md").read_text(encoding="utf-8")
    assert seed.transcript == expected and seed.error is None
    for variant in ("seed002-crlf", "seed002-cr"):
        assert references[variant] == seed
    doc = references["seed002-doc"]
    assert (doc.events, doc.video_url, doc.sid) == (seed.events, SEED_VIDEO, SEED_SID)
    for name in ("sim-A", "sim-B"):
        ok = references[name]
        assert ok.video_url and not ok.failure and ok.error is None, name
        assert [e.percent for e in ok.events if isinstance(e, Progress)][-1] >= 90, name
    assert references["sim-A"].task_id and references["sim-A"].sid and references["sim-A"].done
    for name in ("sim-A-failed", "sim-B-failed"):
        assert references[name].failure and not references[name].video_url, name
    assert references["sim-A-error"].error is not None
    assert references["sim-A-cut"].task_id and not references["sim-A-cut"].video_url


@given(data=st.data())
def test_every_split_of_a_stream_reads_the_same(
    streams: dict[str, bytes], references: dict[str, Outcome], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(sorted(streams)), label="stream")
    cuts = data.draw(cuts_for(streams[name]), label="cuts")
    assert read(streams[name], cuts) == references[name]


@pytest.mark.parametrize("name", ["seed002-crlf", "seed002-doc", "sim-B"])
def test_one_byte_at_a_time(
    streams: dict[str, bytes], references: dict[str, Outcome], name: str
) -> None:
    body = streams[name]
    assert read(body, list(range(1, len(body)))) == references[name]


def _junk_line() -> st.SearchStrategy[str]:
    """Lines a relay or proxy may slip between events, which carry no payload."""
    # one line: no CR or LF (U+2028, NEL, VT… are no line ends in SSE and stay in)
    text = st.text(ANY_CHARACTER).map(lambda s: s.replace("\r", " ").replace("\n", " "))
    not_json = text.filter(lambda s: not parses(s) and "DONE" not in s.upper())
    return st.one_of(
        text.map(lambda s: ": " + s),  # comments, keep-alives
        st.sampled_from((": PING", ":", "event: message", "id: 42", "retry: 3000")),
        st.sampled_from(("event", "id", "retry")).flatmap(lambda f: text.map(f"{f}: ".__add__)),
        not_json.map(lambda s: "data: " + s),  # a payload that is not JSON
        not_json.filter(lambda s: not s.lstrip().startswith(("{", "[", ":", "data"))),
    )


@settings(max_examples=40)
@given(data=st.data())
def test_junk_lines_between_events_change_nothing(
    streams: dict[str, bytes], references: dict[str, Outcome], data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(COMPACT), label="stream")
    junk = data.draw(st.lists(st.tuples(st.integers(0, 10**4), _junk_line()), max_size=12))
    body = with_lines(streams[name], junk, between_events=True)
    cuts = data.draw(cuts_for(body), label="cuts")
    assert read(body, cuts) == references[name]


def _any_line() -> st.SearchStrategy[str]:
    delta = st.fixed_dictionaries(
        {}, optional={"content": nasty_text(4), "reasoning_content": nasty_text(4)}
    )
    chunk = st.builds(lambda d: {"choices": [{"delta": d}]}, delta)
    payloads = st.one_of(
        chunk,
        st.builds(lambda m: {"error": {"message": m}}, nasty_text(4)),
        st.just({"choices": "not a list"}),
        st.just({"choices": [{"delta": {"content": 5}}]}),
    )
    return st.one_of(
        payloads.map(lambda p: "data: " + json.dumps(p, ensure_ascii=False)),
        st.sampled_from(("data: [DONE", "]", "data: {", "{", "[", "data:", "}", "data: null")),
        nasty_text(6),
    )


@settings(max_examples=40)
@given(data=st.data())
def test_any_junk_never_crashes(streams: dict[str, bytes], data: st.DataObject) -> None:
    """Junk may change the answer (a payload is a payload), but only ever into a result
    or a ``ProviderError``; progress stays a percentage that never goes down."""
    name = data.draw(st.sampled_from(sorted(streams)), label="stream")
    junk = data.draw(st.lists(st.tuples(st.integers(0, 10**4), _any_line())), label="junk")
    body = with_lines(streams[name], junk, between_events=False)
    outcome = read(body, data.draw(cuts_for(body), label="cuts"))
    progress = [e.percent for e in outcome.events if isinstance(e, Progress)]
    assert progress == sorted(set(progress)) and all(0 <= p <= 100 for p in progress)


@given(data=st.data())
def test_any_split_of_the_text_gives_the_same_final_state(
    references: dict[str, Outcome], data: st.DataObject
) -> None:
    """The relay decides where one delta ends: ids, links and numbers split anywhere."""
    name = data.draw(st.sampled_from(("seed002", "sim-A", "sim-A-failed")), label="stream")
    text = references[name].transcript
    cuts = data.draw(st.lists(st.integers(0, 10**5), max_size=200), label="cuts")
    field = data.draw(st.sampled_from(("content", "reasoning_content")), label="field")
    edges = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    deltas = [text[a:b] for a, b in itertools.pairwise(edges)]
    outcome = read(sse_body(deltas, field=field), data.draw(st.lists(st.integers(0, 10**5))))
    final = parse_transcript(text, final=True)
    assert (outcome.task_id, outcome.sid, outcome.video_url, outcome.preview_url) == (
        final.task_id,
        final.sid,
        final.video_url,
        final.preview_url,
    )
    assert (outcome.done, outcome.failure) == (final.done, final.failure)
    progress = [e.percent for e in outcome.events if isinstance(e, Progress)]
    full = [e.percent for e in references[name].events if isinstance(e, Progress)]
    assert set(progress) <= set(full) and progress == sorted(progress)
    assert progress[-1:] == full[-1:]  # a piece may carry two numbers: the last one counts


# --------------------------------------------------------------------------- the whole provider


@settings(max_examples=6)
@given(data=st.data())
def test_the_provider_delivers_the_same_video_for_every_split(
    streams: dict[str, bytes], references: dict[str, Outcome], mp4_bytes: bytes, data: st.DataObject
) -> None:
    """End to end through ``ChatProvider.generate`` (download and probe included)."""
    body = streams["seed002-crlf"]
    chunks = pieces(body, data.draw(cuts_for(body), label="cuts"))
    with tempfile.TemporaryDirectory() as workdir:
        events = asyncio.run(generate(chunks, mp4_bytes, Path(workdir)))
    assert tuple(events[:-1]) == references["seed002"].events
    completed = events[-1]
    assert isinstance(completed, Completed)
    assert (completed.upstream_id, completed.video_url) == (SEED_TASK, SEED_VIDEO)
    assert completed.transcript == references["seed002"].transcript


@given(
    deltas=st.lists(nasty_text(6), max_size=20),
    cuts=st.lists(st.integers(0, 10**4), max_size=30),
    newline=st.sampled_from(("\n", "\r\n", "\r")),
)
def test_any_text_arrives_verbatim(deltas: list[str], cuts: list[int], newline: str) -> None:
    """Whatever the deltas hold (U+2028, NEL, form feeds, NUL…), the transcript is their
    concatenation: SSE lines end only at CR, LF or CRLF, and JSON strings may carry raw
    U+2028/U+2029/U+0085 (Python's ``json.dumps(ensure_ascii=False)`` writes them as is)."""
    body = sse_body(deltas, newline=newline)
    outcome = read(body, [c % (len(body) + 1) for c in cuts])
    assert outcome.transcript == "".join(deltas)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0c", "\x1e"])
async def test_a_unicode_line_separator_in_a_delta_loses_nothing(
    separator: str, mp4_bytes: bytes, tmp_path: Path
) -> None:
    """Regression: read with ``httpx``'s ``aiter_lines``, the chunk carrying the link was
    cut in two at the separator, dropped as broken JSON, and the job failed."""
    deltas = [
        "> ID: `task_sep`\n> 生成完成 ✅\n",
        f"{separator}[视频文件](https://cdn.test/v.mp4)\n",
    ]
    events_out = await generate([sse_body(deltas)], mp4_bytes, tmp_path)
    completed = events_out[-1]
    assert isinstance(completed, Completed), completed
    assert completed.video_url == "https://cdn.test/v.mp4"
    assert completed.transcript == "".join(deltas)
