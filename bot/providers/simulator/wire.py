"""How relays spell things: ids, request ids and error answers (upstream-api.md §1, §2).

Two JSON envelopes, sometimes from the same gateway, plus the HTML pages of the proxy in
front of it::

    {"error": {"message": "… (request id: …)", "type": "new_api_error", "code": "…"}}
    {"code": "insufficient_user_quota", "message": "…", "data": null}
"""

from __future__ import annotations

import json
import random
import string
import time

from aiohttp import web

from bot.models import WireFormat
from bot.providers.simulator.faults import Fault, FaultPoint

_ALNUM = string.ascii_letters + string.digits
# ULID-like ids of the task relays (Crockford base32, lower case): task_01k900ag82ecgbewj2xa3758z0
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NGINX_404 = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_CLOUDFLARE_502 = """<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html class="no-js" lang="en-US">
<head>
<title>relay.sim | 502: Bad gateway</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <h1 class="inline-block">Bad gateway</h1>
    <span class="inline-block">Error code 502</span>
    <p>The web server reported a bad gateway error.</p>
    <p>Please try again in a few minutes.</p>
  </div>
  <div class="cf-error-footer">
    <p>Cloudflare Ray ID: <strong class="font-semibold">{ray}</strong></p>
    <p>Performance &amp; security by Cloudflare</p>
  </div>
</div>
</body>
</html>
"""


class Ids:
    """Makes the ids relays hand out; one random source so a seeded simulator is repeatable."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def _pick(self, alphabet: str, length: int) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(length))

    def hex(self, length: int = 32) -> str:
        return self._pick("0123456789abcdef", length)

    def ulid(self) -> str:
        return "01k" + self._pick(_CROCKFORD, 23)

    def request_id(self) -> str:
        """new-api's request id: a timestamp, nine digits and eight letters or digits."""
        return time.strftime("%Y%m%d%H%M%S") + self._pick(string.digits, 9) + self._pick(_ALNUM, 8)

    def video_id(self, style: str, model: str) -> str:
        """``video_<hex>`` (official), ``task_<32 alnum>`` (new-api) or ``<model>:task_<ulid>``."""
        if style == "task":
            return "task_" + self._pick(_ALNUM, 32)
        if style == "colon":
            return f"{model}:task_{self.ulid()}"
        return "video_" + self.hex()

    def token(self) -> str:
        return self.hex(24)

    def sid(self) -> str:
        return "s_" + self.hex()


def new_api_error(
    status: int,
    message: str,
    code: str,
    request_id: str,
    *,
    error_type: str = "new_api_error",
    headers: dict[str, str] | None = None,
) -> web.Response:
    """The OpenAI-style envelope new-api uses, with its ``(request id: …)`` suffix."""
    body = {
        "error": {
            "message": f"{message} (request id: {request_id})",
            "type": error_type,
            "code": code,
        }
    }
    return web.json_response(body, status=status, headers=headers, dumps=_dumps)


def task_error(status: int, code: str, message: str) -> web.Response:
    """The task endpoints' envelope: ``{"code": …, "message": …, "data": null}``."""
    return web.json_response(
        {"code": code, "message": message, "data": None}, status=status, dumps=_dumps
    )


def html_page(status: int, page: str) -> web.Response:
    return web.Response(status=status, text=page, content_type="text/html", charset="utf-8")


def unauthorized(request_id: str) -> web.Response:
    return new_api_error(401, "无效的令牌", "", request_id)


def model_not_found(model: str, request_id: str) -> web.Response:
    return new_api_error(
        503, f"当前分组 default 下对于模型 {model} 无可用渠道", "model_not_found", request_id
    )


def fault_answer(
    fault: Fault,
    fmt: WireFormat,
    point: FaultPoint,
    *,
    model: str,
    ids: Ids,
    retry_after: int,
) -> web.Response:
    """The answer a real relay gives for ``fault`` at ``point`` (upstream-api.md §2)."""
    rid = ids.request_id()
    if fault is Fault.RATE_LIMIT:
        return new_api_error(
            429,
            "当前分组上游负载已饱和，请稍后再试",
            "",
            rid,
            headers={"Retry-After": str(retry_after)},
        )
    if fault is Fault.SERVER_ERROR:
        if point == "poll":  # the CDN in front, not the relay, answers this one
            return html_page(502, _CLOUDFLARE_502.replace("{ray}", ids.hex(16)))
        return html_page(502, NGINX_502)
    if fault is Fault.SENSITIVE:
        return new_api_error(
            500, "检测到敏感词，请修改提示词后重试", "sensitive_words_detected", rid
        )
    if fault is Fault.MODEL_NOT_FOUND:
        return model_not_found(model, rid)
    if fault is Fault.BALANCE:
        return _balance(fmt, rid)
    raise ValueError(f"{fault} is not answered at {point}")


def _balance(fmt: WireFormat, request_id: str) -> web.Response:
    message = "用户额度不足, 剩余额度: ＄0.000000"
    if fmt is WireFormat.CHAT:
        return new_api_error(403, message, "insufficient_user_quota", request_id)
    if fmt is WireFormat.UNIFIED:
        # the task relay wraps the upstream's own error as JSON inside the message string
        inner = {
            "error": {
                "message": f"{message} (request id: {request_id})",
                "type": "new_api_error",
                "code": "insufficient_user_quota",
            }
        }
        compact = json.dumps(inner, ensure_ascii=False, separators=(",", ":"))  # as Go writes it
        return task_error(403, "insufficient_user_quota", compact)
    return task_error(403, "insufficient_user_quota", message)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)
