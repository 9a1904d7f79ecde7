"""HTTP boundary shared by the three wire formats: error envelopes → ``ProviderError``.

Relays answer errors in two JSON envelopes, sometimes from the same gateway, plus bare
HTML or empty bodies from the proxy in front (upstream-api.md §2)::

    {"error": {"message": "… (request id: …)", "type": "new_api_error", "code": "…"}}
    {"code": "insufficient_user_quota", "message": "…", "data": null}

``message`` may itself be a JSON string holding the upstream error; we decode it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.errors import ErrorCategory, ProviderError

_POLICY_CODES = {
    "moderation_blocked",
    "sensitive_words_detected",
    "content_policy_violation",
    "content_filter",
    "prompt_blocked",
}
_BALANCE_CODES = {"insufficient_user_quota", "pre_consume_token_quota_failed", "insufficient_quota"}
_MODEL_CODES = {"model_not_found", "model_not_available"}
_EXPIRED_CODES = {"video_expired", "expired", "content_expired"}
_POLICY_WORDS = ("moderation", "sensitive", "content policy", "违规", "敏感", "审核")
_MODEL_WORDS = ("model not found", "model_not_found", "无可用渠道")
_BALANCE_WORDS = ("insufficient", "余额不足", "额度不足", "quota")
_MAX_MESSAGE = 500


def parse_error_body(body: bytes | str) -> tuple[str | None, str]:
    """Return ``(code, message)`` from either envelope, or ``(None, short text)`` otherwise."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text.strip()
    if not text:
        return None, ""
    try:
        data = json.loads(text)
    except ValueError:
        return None, _plain_text(text)
    return _from_json(data)


def _from_json(data: Any) -> tuple[str | None, str]:
    if not isinstance(data, dict):
        return None, _clip(str(data))
    err = data.get("error")
    if isinstance(err, dict):
        code = err.get("code") or err.get("type")
        message = err.get("message") or ""
    elif isinstance(err, str) and err:
        code, message = data.get("code"), err
    else:
        code, message = data.get("code"), data.get("message") or data.get("msg") or ""
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    # JSON in a string: the task endpoints wrap the upstream error this way.
    inner = message.strip()
    if inner.startswith("{"):
        try:
            inner_code, inner_message = _from_json(json.loads(inner))
        except ValueError:
            pass
        else:
            code = inner_code or code
            message = inner_message or message
    return (str(code) if code not in (None, "") else None), _clip(message)


def _plain_text(text: str) -> str:
    """An HTML proxy page → its title (or the first words), never the whole page."""
    title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
    if title:
        return _clip(" ".join(title.group(1).split()))
    if text.lstrip().startswith("<"):
        return _clip(" ".join(re.sub(r"<[^>]+>", " ", text).split()))
    return _clip(" ".join(text.split()))


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def classify(status: int | None, code: str | None, message: str) -> ErrorCategory:
    """Map an HTTP status plus the envelope's code and message to a category (§2 table)."""
    lowered = f"{code or ''} {message}".lower()
    if code in _POLICY_CODES or any(w in lowered for w in _POLICY_WORDS):
        return ErrorCategory.CONTENT_POLICY
    if code in _BALANCE_CODES or (status == 403 and any(w in lowered for w in _BALANCE_WORDS)):
        return ErrorCategory.BALANCE
    if code in _MODEL_CODES or any(w in lowered for w in _MODEL_WORDS):
        return ErrorCategory.MODEL_UNAVAILABLE
    # "The model `x` does not exist"; but "task/video … does not exist" is an unknown job id
    if "does not exist" in lowered and "model" in lowered:
        return ErrorCategory.MODEL_UNAVAILABLE
    if code in _EXPIRED_CODES:
        return ErrorCategory.EXPIRED
    if status == 401:
        return ErrorCategory.AUTH
    if status == 403:
        return (
            ErrorCategory.AUTH if "token" in lowered or "令牌" in lowered else ErrorCategory.BALANCE
        )
    if status == 429:
        return ErrorCategory.RATE_LIMITED
    if status is not None and 400 <= status < 500:
        return ErrorCategory.BAD_REQUEST
    return ErrorCategory.TRANSIENT


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds (delta or HTTP date), or ``None``."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(
    response: httpx.Response, body: bytes | None = None, *, upstream_id: str | None = None
) -> ProviderError:
    """Build the ``ProviderError`` for a non-2xx answer (the body must already be read)."""
    raw = body if body is not None else response.content
    code, message = parse_error_body(raw)
    if not message:
        message = f"HTTP {response.status_code} {response.reason_phrase or ''}".strip()
    category = classify(response.status_code, code, message)
    return ProviderError(
        category,
        message,
        status=response.status_code,
        code=code,
        retry_after=retry_after_seconds(response.headers),
        upstream_id=upstream_id,
    )


def error_from_payload(
    payload: Mapping[str, Any], *, upstream_id: str | None = None
) -> ProviderError:
    """A failure reported inside a 200 answer (a failed status, an SSE error event)."""
    code, message = _from_json(dict(payload))
    category = classify(None, code, message)
    if category is ErrorCategory.TRANSIENT:
        # a job that the relay reports failed is a generation failure, not a network blip
        category = ErrorCategory.GENERATION_FAILED
    return ProviderError(
        category, message or "generation failed", code=code, upstream_id=upstream_id
    )


def transport_error(exc: httpx.HTTPError, what: str) -> ProviderError:
    """A timeout or connection failure, described without the URL's query or headers."""
    kind = type(exc).__name__
    return ProviderError(ErrorCategory.TRANSIENT, f"{what}: {kind}")


def bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}")


def redact(text: str, secret: str) -> str:
    """``text`` without ``secret`` (a relay may echo the key it got) or anything key-shaped."""
    if len(secret) >= 4:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub("sk-***", text)


def parse_timestamp(value: Any) -> float | None:
    """Seconds since the epoch from seconds or milliseconds (> 1e12 means ms)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number / 1000.0 if number > 1e12 else number


def parse_percent(value: Any) -> int | None:
    """``30``, ``"30"``, ``"30%"``, ``0.3``? → 30. Relays disagree on the type."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = re.search(r"\d+(?:\.\d+)?", value)
        if not match:
            return None
        value = match.group(0)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return max(0, min(100, int(number)))
