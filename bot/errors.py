"""The bot's exception tree. Errors are mapped once, at the boundary, and chained with ``from``.

::

    BotError
    ├── ConfigError              invalid configuration (one line: key and reason)
    ├── UserError                bad input or refusal; costs the user nothing
    │   ├── InvalidRequest       empty prompt, unknown model, duration not allowed, bad image…
    │   ├── NotAllowed           moderator-only command from a member
    │   ├── QuotaExceeded        no credits left this period
    │   └── TooManyJobs          the user already has N jobs queued or running
    ├── ProviderError            anything the relay answered or failed to answer
    │                            (``category`` says which row of upstream-api.md §2)
    ├── MediaError               a file could not be probed, converted or fitted
    └── PlatformError            Discord/Telegram side
        ├── PlatformRateLimited  429 / RetryAfter: push the chat's edit budget back
        ├── UploadTooLarge       413: take the oversize path
        ├── MessageGone          the status message (or chat) vanished
        └── SendOutcomeUnknown   a send may or may not have landed, and may not be repeated

User-facing texts are never built here: a ``UserError`` carries a text key and
parameters, and ``bot.texts`` renders them in the user's language.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCategory(StrEnum):
    """The error table of upstream-api.md §2, plus the two ways a job ends without an answer."""

    AUTH = "auth"  # 401: bad, expired or exhausted key
    BALANCE = "balance"  # 403 insufficient_user_quota: the relay account is out of credit
    MODEL_UNAVAILABLE = "model_unavailable"  # 503 model_not_found, 404 model not found
    RATE_LIMITED = "rate_limited"  # 429 at submit
    BAD_REQUEST = "bad_request"  # 400 invalid_size, invalid_json, missing_model…
    CONTENT_POLICY = "content_policy"  # moderation_blocked, sensitive_words_detected
    TRANSIENT = "transient"  # 5xx, timeouts, cut streams, proxy pages
    GENERATION_FAILED = "generation_failed"  # status failed without a more precise reason
    EXPIRED = "expired"  # the finished asset is gone (502 on content, 404 on the link)
    TIMEOUT = "timeout"  # our own per-job deadline passed

    @property
    def retryable(self) -> bool:
        """Whether the *poll* (never the submit) may be retried after this error."""
        return self in (ErrorCategory.RATE_LIMITED, ErrorCategory.TRANSIENT)


class BotError(Exception):
    """Root of every error the bot raises on purpose."""


class ConfigError(BotError):
    """The configuration is invalid; ``str()`` is one line naming the key and the reason."""


class UserError(BotError):
    """A refusal or bad input. ``key`` names a text in ``bot.texts``; ``params`` fill it.

    Subclasses with one meaning carry their text key as ``default_key``.
    """

    default_key = "invalid_request"

    def __init__(self, key: str | None = None, **params: Any) -> None:
        key = key or self.default_key
        super().__init__(key)
        self.key = key
        self.params = params

    def __str__(self) -> str:
        if not self.params:
            return self.key
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.key}({args})"


class InvalidRequest(UserError):
    """The request cannot be sent upstream as it is."""


class NotAllowed(UserError):
    """The caller lacks the right (moderator commands)."""

    default_key = "not_moderator"


class QuotaExceeded(UserError):
    """No credits left in the current period."""

    default_key = "quota_exceeded"


class TooManyJobs(UserError):
    """The user already has the maximum number of jobs queued or running."""

    default_key = "too_many_jobs"


class ProviderError(BotError):
    """A relay failure, normalised.

    ``message`` is the upstream's own words (already decoded from JSON-in-a-string), safe to
    show: it never contains our API key. ``sent`` tells whether the create request may have
    reached the relay (then it must not be resubmitted: no API here has idempotency keys).
    """

    def __init__(
        self,
        category: ErrorCategory,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        upstream_id: str | None = None,
    ) -> None:
        super().__init__(f"{category.value}: {message}")
        self.category = category
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.upstream_id = upstream_id


class PlatformError(BotError):
    """A failure on the chat platform's side."""


class PlatformRateLimited(PlatformError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:.1f}s")
        self.retry_after = retry_after


class UploadTooLarge(PlatformError):
    """The platform refused the file for its size (Discord 40005, Telegram 413)."""


class MessageGone(PlatformError):
    """The message to edit (or the whole chat) no longer exists."""


class SendOutcomeUnknown(PlatformError):
    """A send (a new message or upload) got no answer: it may or may not have landed.

    Raised only by sends that cannot be repeated safely (no idempotency on the platform);
    an adapter retries idempotent calls (edits, sends carrying a nonce) itself. The core
    never repeats such a send and never refunds a video whose upload ended this way.
    """


class MediaError(BotError):
    """A video or image could not be read, probed, thumbnailed or re-encoded to fit."""
