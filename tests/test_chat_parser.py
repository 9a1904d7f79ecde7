"""The chat format's text parser and lenient SSE reader, on seed 002's recorded traffic and
on hand-written variants (upstream-api.md §1.3)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from bot.providers.chat_parser import ChatState, TranscriptParser, parse_transcript
from bot.providers.sse import SSEJSONDecoder, iter_sse_json

FIXTURES = Path("/work/shared/fixtures")
SEED_TASK = "task_01k7e5w9z5f2d91pekrqy59rwc"
SEED_SID = "s_68eca3f141808191b1fd30fea1b731bd"


def seed_content() -> str:
    return (FIXTURES / "seed002-assistant-content.md").read_text(encoding="utf-8")


def feed_in_pieces(text: str, sizes: list[int]) -> list[ChatState]:
    parser = TranscriptParser()
    states, position, index = [], 0, 0
    while position < len(text):
        size = sizes[index % len(sizes)]
        states.append(parser.feed(text[position : position + size]))
        position += size
        index += 1
    states.append(parser.finish())
    return states


def content_of(payloads: list[dict[str, object]]) -> str:
    text = []
    for payload in payloads:
        for choice in payload.get("choices", []):  # type: ignore[union-attr]
            text.append(choice.get("delta", {}).get("content") or "")
    return "".join(text)


def decode_lines(lines: list[str]) -> tuple[list[dict[str, object]], bool]:
    decoder = SSEJSONDecoder()
    payloads = [p for line in lines for p in decoder.feed_line(line)]
    payloads += decoder.close()
    return payloads, decoder.done


# --------------------------------------------------------------------------- seed 002


def test_seed002_transcript_parses_to_the_whole_state() -> None:
    state = parse_transcript(seed_content())

    assert state == ChatState(
        task_id=SEED_TASK,
        queued=True,
        generating=True,
        progress=81,
        done=True,
        sid=SEED_SID,
        video_url="https://example.com/?video-file=2",
        preview_url="https://example.com/?video-preview=2",
        failure=None,
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seed002_fed_in_random_pieces_never_reports_a_partial_token(seed: int) -> None:
    rnd = random.Random(seed)
    states = feed_in_pieces(seed_content(), [rnd.randint(1, 6) for _ in range(97)])

    progress = [s.progress for s in states if s.progress is not None]
    assert set(progress) <= {36, 44, 61, 69, 81}  # a piece may carry two numbers at once
    assert progress == sorted(progress) and progress[-1] == 81
    assert {s.task_id for s in states} <= {None, SEED_TASK}
    assert {s.sid for s in states} <= {None, SEED_SID}
    assert {s.video_url for s in states} <= {None, "https://example.com/?video-file=2"}
    assert states[-1] == parse_transcript(seed_content())


def test_seed002_stream_decodes_to_the_assistant_content() -> None:
    lines = (FIXTURES / "seed002-stream.sse").read_text(encoding="utf-8").splitlines()

    payloads, done = decode_lines(lines)

    assert done
    assert len(payloads) == 78  # and the [DONE] line
    assert content_of(payloads) == seed_content()


def test_seed002_doc_example_survives_pretty_printing_and_a_broken_done() -> None:
    lines = (FIXTURES / "seed002-doc-example.txt").read_text(encoding="utf-8").splitlines()

    payloads, done = decode_lines(lines)

    assert done  # "data: [DONE" + "]" on the next line
    assert content_of(payloads).strip() == seed_content().strip()
    assert parse_transcript(content_of(payloads)) == parse_transcript(seed_content())


# --------------------------------------------------------------------------- tokens


def test_a_progress_number_is_only_trusted_once_terminated() -> None:
    parser = TranscriptParser()

    assert parser.feed("> 进度 3").progress is None
    assert parser.feed("6").progress is None
    assert parser.feed(".").progress == 36
    assert parser.feed(".4").progress == 36
    assert parser.feed("4 ").progress == 36  # trailing blank: "44 5" would be two numbers
    assert parser.feed("\n").progress == 44


def test_whitespace_then_more_text_terminates_a_number() -> None:
    assert parse_transcript("Progress 36 ").progress is None
    assert parse_transcript("Progress 36 then").progress == 36
    assert parse_transcript("Progress 36", final=True).progress == 36


def test_progress_reports_the_highest_number_and_ignores_non_percentages() -> None:
    state = parse_transcript("进度 12..90..45..\nProgress: 250%\n")

    assert state.progress == 90


def test_id_and_sid_need_a_terminator_and_may_lack_backticks() -> None:
    assert parse_transcript("> ID: `task_abc").task_id is None
    assert parse_transcript("> ID: `task_abc`").task_id == "task_abc"
    assert parse_transcript("> ID: task_abc").task_id is None
    assert parse_transcript("> ID: task_abc\n").task_id == "task_abc"
    assert parse_transcript("> ID: task_abc", final=True).task_id == "task_abc"
    assert parse_transcript("> sid: s_1f\n").sid == "s_1f"
    assert parse_transcript("> sid: `s_1f`").sid == "s_1f"
    assert parse_transcript("> ID: sora-2:task_01k9\n").task_id == "sora-2:task_01k9"


def test_an_id_inside_a_sentence_is_not_the_task_id() -> None:
    state = parse_transcript("Video published successfully. Post ID: s_68e3\n")

    assert state.task_id is None


def test_the_video_link_is_reported_only_once_its_paren_closed() -> None:
    parser = TranscriptParser()

    assert parser.feed("[视频文件(示例)](https://cdn.test/v?id=1").video_url is None
    assert parser.feed("2").video_url is None
    assert parser.feed(")").video_url == "https://cdn.test/v?id=12"


@pytest.mark.parametrize(
    "text",
    ["在线播放▶️", "视频文件", "Watch online", "Play video", "Download"],
)
def test_link_texts_naming_the_video(text: str) -> None:
    state = parse_transcript(f"[预览图](https://cdn.test/p.webp)\n[{text}](https://cdn.test/v/7)\n")

    assert state.video_url == "https://cdn.test/v/7"
    assert state.preview_url == "https://cdn.test/p.webp"


def test_a_preview_is_never_the_video() -> None:
    state = parse_transcript(
        "![thumb](https://cdn.test/p.mp4)\n[数据预览](https://cdn.test/task)\n"
        "[预览图](https://cdn.test/p2.mp4)\n"
    )

    assert state.video_url is None
    assert state.preview_url == "https://cdn.test/p.mp4"


def test_the_first_bare_mp4_is_the_fallback_and_must_be_complete() -> None:
    text = "done: https://cdn.test/a/b.mp4?sig=x1 and https://cdn.test/c.mp4\n"

    assert parse_transcript(text).video_url == "https://cdn.test/a/b.mp4?sig=x1"
    assert parse_transcript("done: https://cdn.test/a/b.mp4").video_url is None
    assert parse_transcript("https://cdn.test/a/b.mp4", final=True).video_url == (
        "https://cdn.test/a/b.mp4"
    )
    assert parse_transcript("see https://cdn.test/b.mp4.html\n").video_url is None


def test_a_named_link_beats_an_earlier_bare_mp4() -> None:
    text = "mirror https://cdn.test/old.mp4 \n[视频文件](https://cdn.test/new)\n"

    assert parse_transcript(text).video_url == "https://cdn.test/new"


# --------------------------------------------------------------------------- variants


def test_variant_a_in_english() -> None:
    text = (
        "> ID: task_en1\n> Queuing...\n> Generating.\n> Progress 12..57..\n"
        "> Generating Complete ✅\n> sid: s_en1\n[Play online](https://cdn.test/en1)"
    )

    state = parse_transcript(text)

    assert (state.task_id, state.sid, state.progress) == ("task_en1", "s_en1", 57)
    assert state.queued and state.generating and state.done
    assert state.video_url == "https://cdn.test/en1"


@pytest.mark.parametrize("quote", ["'", '"'])
def test_variant_b_progress_and_video_tag(quote: str) -> None:
    reasoning = TranscriptParser()
    reasoning.feed("**Generation Process Begins**\n\nInitializing generation request...\n")
    reasoning.feed("**Video Generation Progress**: 4")
    assert reasoning.state.progress is None
    reasoning.feed("0% (processing)\n**Video Generation Progress**: 80% (processing)\n")
    content = parse_transcript(
        f"```html\n<video src={quote}https://cdn.test/b.mp4{quote} controls></video>\n```"
    )

    state = content.combined_with(reasoning.finish())

    assert state.progress == 80
    assert state.video_url == "https://cdn.test/b.mp4"
    assert state.task_id is None


def test_failure_reason() -> None:
    state = parse_transcript("> ID: `task_f`\n> 排队中...\n❌ 生成失败: 内容违规\n")

    assert state.failure == "内容违规"
    assert state.task_id == "task_f"
    assert parse_transcript("❌ Generation failed\n").failure == "Generation failed"


def test_the_prompt_echo_block_is_not_read_for_markers() -> None:
    echo = '```json\n{"prompt": "进度 50.. [video](https://evil.test/x) ID: fake"}\n```\n'

    assert parse_transcript(echo + "> ID: task_real\n") == ChatState(task_id="task_real")


def test_an_unclosed_json_block_is_read_at_the_end() -> None:
    parser = TranscriptParser()
    parser.feed("```json\n[视频](https://cdn.test/late)\n")

    assert parser.state.video_url is None
    assert parser.finish().video_url == "https://cdn.test/late"


# --------------------------------------------------------------------------- performance


def _timed_feed(text: str, step: int) -> tuple[float, ChatState]:
    parser = TranscriptParser()
    started = time.perf_counter()
    for position in range(0, len(text), step):
        parser.feed(text[position : position + step])
    return time.perf_counter() - started, parser.finish()


def test_a_megabyte_in_ten_byte_deltas_is_linear() -> None:
    block = "> 排队中......\n>🏃 进度 " + "..".join(str(n) for n in range(1, 100)) + "..\n"
    text = block * (1_000_000 // len(block)) + "[视频文件](https://cdn.test/big)\n"

    elapsed, state = _timed_feed(text, 10)

    assert state.progress == 99 and state.video_url == "https://cdn.test/big"
    assert elapsed < 8.0, f"{elapsed:.1f} s for 1 MB"


def test_a_megabyte_on_one_line_is_not_quadratic() -> None:
    text = "x" * 1_000_000 + " https://cdn.test/one.mp4 end"

    elapsed, state = _timed_feed(text, 10)

    assert state.video_url == "https://cdn.test/one.mp4"
    assert elapsed < 8.0, f"{elapsed:.1f} s for one 1 MB line"


# --------------------------------------------------------------------------- SSE leniency


def test_sse_comments_fields_and_data_without_space() -> None:
    lines = [
        ": PING",
        "event: message",
        "id: 7",
        'data:{"n": 1}',
        "",
        "retry: 1000",
        'data: {"n":',
        "data: 2}",
        "",
        "data: [DONE]",
        'data: {"n": 3}',
    ]

    payloads, done = decode_lines(lines)

    assert payloads == [{"n": 1}, {"n": 2}]
    assert done


def test_sse_drops_garbage_and_recovers_on_the_next_event() -> None:
    lines = ["data: hello", "", 'data: {"trunc', "", 'data: {"a":', 'data: {"n": 1}', ""]

    payloads, done = decode_lines(lines)

    assert payloads == [{"n": 1}]
    assert not done


def test_sse_indented_pretty_events_without_blank_lines_between() -> None:
    lines = ["data: {", '  "n": 1', "  }", "data: {", '  "n": 2', "  }", "data: [DONE"]

    payloads, done = decode_lines(lines)

    assert payloads == [{"n": 1}, {"n": 2}]
    assert done  # a broken [DONE at the very end still ends the stream


def test_sse_reads_a_plain_json_body() -> None:
    body = json.dumps({"error": {"message": "boom", "code": "x"}}, indent=2).splitlines()

    payloads, _ = decode_lines(body)

    assert payloads == [{"error": {"message": "boom", "code": "x"}}]


async def test_iter_sse_json_stops_at_done() -> None:
    async def lines():  # type: ignore[no-untyped-def]
        for line in ['data: {"a": 1}', "", "data: [DONE]", 'data: {"b": 2}']:
            yield line

    assert [p async for p in iter_sse_json(lines())] == [{"a": 1}]
