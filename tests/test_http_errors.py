"""``bot.providers.http``: both error envelopes, proxy pages, and the §2 category table.

Bodies are the shapes relays really send (upstream-api.md §2, seeds 001 and 004).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from bot.errors import ErrorCategory
from bot.providers.http import (
    bearer,
    classify,
    error_from_payload,
    error_from_response,
    parse_error_body,
    parse_percent,
    parse_timestamp,
    redact,
    retry_after_seconds,
    transport_error,
)

NEW_API = {
    "error": {
        "message": "当前分组 default 下对于模型 sora-2 无可用渠道 (request id: 20251101)",
        "type": "new_api_error",
        "code": "model_not_found",
    }
}
TASK_ENVELOPE = {"code": "insufficient_user_quota", "message": "用户额度不足", "data": None}


def response(status: int, body: object = None, **headers: str) -> httpx.Response:
    if isinstance(body, bytes | str):
        return httpx.Response(status, content=body, headers=headers)
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


# --------------------------------------------------------------------------- envelopes


def test_openai_style_envelope() -> None:
    code, message = parse_error_body(json.dumps(NEW_API).encode())
    assert code == "model_not_found"
    assert message.startswith("当前分组 default 下对于模型 sora-2 无可用渠道")


def test_task_endpoint_envelope() -> None:
    assert parse_error_body(json.dumps(TASK_ENVELOPE)) == (
        "insufficient_user_quota",
        "用户额度不足",
    )


def test_envelope_type_stands_in_for_a_missing_code() -> None:
    body = {"error": {"message": "无效的令牌", "type": "new_api_error", "code": ""}}
    assert parse_error_body(json.dumps(body)) == ("new_api_error", "无效的令牌")


def test_json_inside_the_message_string_is_decoded() -> None:
    inner = {"error": {"code": "moderation_blocked", "message": "Blocked by moderation."}}
    body = {"code": "upstream_error", "message": json.dumps(inner), "data": None}
    assert parse_error_body(json.dumps(body)) == ("moderation_blocked", "Blocked by moderation.")


def test_json_message_that_is_not_json_stays_as_it_is() -> None:
    body = {"code": "bad", "message": "{not json"}
    assert parse_error_body(json.dumps(body)) == ("bad", "{not json")


def test_error_as_a_plain_string() -> None:
    assert parse_error_body('{"error": "quota exceeded", "code": 429}') == ("429", "quota exceeded")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>",
            "502 Bad Gateway",
        ),
        (b"<html><body><h1>504 Gateway Time-out</h1>\n<hr>nginx</body></html>", "504 Gateway"),
        (b"", ""),
        (b"   \n", ""),
        (b"upstream connect error", "upstream connect error"),
    ],
)
def test_proxy_pages_become_a_short_text(body: bytes, message: str) -> None:
    code, text = parse_error_body(body)
    assert code is None
    assert text.startswith(message)
    assert "<" not in text


def test_long_messages_are_clipped() -> None:
    _, text = parse_error_body(json.dumps({"error": {"message": "x" * 5000}}))
    assert len(text) == 500 and text.endswith("…")


# --------------------------------------------------------------------------- the §2 table


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (401, {"error": {"message": "无效的令牌", "type": "new_api_error"}}, ErrorCategory.AUTH),
        (401, {"error": {"message": "该令牌额度已用尽 token.RemainQuota = 0"}}, ErrorCategory.AUTH),
        (403, {"error": {"message": "该令牌无权使用模型"}}, ErrorCategory.AUTH),
        (403, TASK_ENVELOPE, ErrorCategory.BALANCE),
        (
            403,
            {"error": {"message": "预扣费额度失败", "code": "pre_consume_token_quota_failed"}},
            ErrorCategory.BALANCE,
        ),
        (
            429,
            {"error": {"code": "insufficient_quota", "message": "billing"}},
            ErrorCategory.BALANCE,
        ),
        (503, NEW_API, ErrorCategory.MODEL_UNAVAILABLE),
        (404, {"error": {"message": "model not found"}}, ErrorCategory.MODEL_UNAVAILABLE),
        (
            404,
            {"error": {"message": "The model `sora-9` does not exist", "code": "not_found"}},
            ErrorCategory.MODEL_UNAVAILABLE,
        ),
        # an unknown job id is not a missing model
        (
            404,
            {"error": {"message": "Video with id 'video_1' does not exist.", "code": None}},
            ErrorCategory.BAD_REQUEST,
        ),
        (
            429,
            {"error": {"message": "当前分组上游负载已饱和，请稍后再试"}},
            ErrorCategory.RATE_LIMITED,
        ),
        (
            400,
            {"error": {"message": "bad size", "code": "invalid_size"}},
            ErrorCategory.BAD_REQUEST,
        ),
        (
            400,
            {"error": {"message": "bad json", "code": "invalid_json"}},
            ErrorCategory.BAD_REQUEST,
        ),
        (400, {"error": {"message": "?", "code": "missing_model"}}, ErrorCategory.BAD_REQUEST),
        (
            400,
            {"error": {"message": "Your request was blocked by our moderation system."}},
            ErrorCategory.CONTENT_POLICY,
        ),
        (500, {"code": "sensitive_words_detected", "message": "x"}, ErrorCategory.CONTENT_POLICY),
        (500, {"error": {"message": "internal error"}}, ErrorCategory.TRANSIENT),
        (502, b"<html><title>502 Bad Gateway</title></html>", ErrorCategory.TRANSIENT),
        (520, b"", ErrorCategory.TRANSIENT),
        (410, {"error": {"code": "video_expired", "message": "gone"}}, ErrorCategory.EXPIRED),
    ],
)
def test_error_from_response_follows_the_table(
    status: int, body: object, category: ErrorCategory
) -> None:
    error = error_from_response(response(status, body), upstream_id="task_1")
    assert error.category is category
    assert error.status == status
    assert error.upstream_id == "task_1"
    assert error.message


def test_empty_body_message_names_the_status() -> None:
    error = error_from_response(response(502, b""))
    assert error.message == "HTTP 502 Bad Gateway"
    assert error.category is ErrorCategory.TRANSIENT


def test_retryable_categories_are_only_the_poll_kind() -> None:
    retryable = {c for c in ErrorCategory if c.retryable}
    assert retryable == {ErrorCategory.RATE_LIMITED, ErrorCategory.TRANSIENT}


def test_classify_without_a_status_defaults_to_transient() -> None:
    assert classify(None, None, "connection reset") is ErrorCategory.TRANSIENT


# --------------------------------------------------------------------------- inside a 200


@pytest.mark.parametrize(
    ("payload", "category"),
    [
        ({"error": {"code": "moderation_blocked", "message": "no"}}, ErrorCategory.CONTENT_POLICY),
        ({"error": {"code": "render_failed", "message": "boom"}}, ErrorCategory.GENERATION_FAILED),
        (TASK_ENVELOPE, ErrorCategory.BALANCE),
        ({}, ErrorCategory.GENERATION_FAILED),
    ],
)
def test_error_from_payload(payload: dict[str, object], category: ErrorCategory) -> None:
    error = error_from_payload(payload, upstream_id="video_1")
    assert error.category is category
    assert error.upstream_id == "video_1"
    assert error.message


# --------------------------------------------------------------------------- helpers


def test_retry_after_as_seconds_and_as_a_date() -> None:
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"})) == 7.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    assert 100 < (retry_after_seconds(httpx.Headers({"Retry-After": when})) or 0) <= 120
    assert retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_seconds(httpx.Headers()) is None
    error = error_from_response(
        response(429, {"error": {"message": "busy"}}, **{"Retry-After": "3"})
    )
    assert error.retry_after == 3.0


def test_transport_error_names_only_the_kind() -> None:
    request = httpx.Request("GET", "https://relay.test/v1/videos/x?key=sk-secret-123456789012")
    error = transport_error(httpx.ReadTimeout("timed out", request=request), "status poll")
    assert error.category is ErrorCategory.TRANSIENT
    assert error.message == "status poll: ReadTimeout"


def test_redact_removes_the_key_and_key_shaped_strings() -> None:
    key = "sk-live-abcdefghijklmnop"
    assert redact(f"Incorrect API key provided: {key}.", key) == "Incorrect API key provided: ***."
    assert redact("token sk-otherkeyABCDEFGH1234 refused", key) == "token sk-*** refused"
    assert redact("sk-proj-****abcd is masked already", key) == "sk-proj-****abcd is masked already"
    assert bearer(key) == {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(30, 30), ("30", 30), ("30%", 30), ("45.5%", 45), (150, 100), (None, None), ("", None)],
)
def test_parse_percent(value: object, expected: int | None) -> None:
    assert parse_percent(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1762010677921, 1762010677.921), (1760627077, 1760627077.0), ("1760627077", 1760627077.0)],
)
def test_parse_timestamp_seconds_or_milliseconds(value: object, expected: float) -> None:
    assert parse_timestamp(value) == pytest.approx(expected)
    assert parse_timestamp(None) is None and parse_timestamp("never") is None
