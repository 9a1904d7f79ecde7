"""Video relays, one class per wire format, built from configuration by :func:`build_provider`.

The format modules are imported only when a provider of that format is built, so importing
``bot.providers`` stays cheap (no PyAV, no SSE parser) for code that only needs the types.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from bot.models import WireFormat

if TYPE_CHECKING:
    import httpx

    from bot.config import ProviderConfig
    from bot.providers.base import BaseProvider, Clock, Sleep


def build_provider(
    config: ProviderConfig,
    client: httpx.AsyncClient,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Clock = time.monotonic,
) -> BaseProvider:
    """The provider class for ``config.format``, sharing ``client`` (its lifetime is the
    caller's). ``sleep`` and ``clock`` are injected so tests poll and time out instantly."""
    provider_class: type[BaseProvider]
    if config.format is WireFormat.VIDEOS:
        from bot.providers.videos import VideosProvider

        provider_class = VideosProvider
    elif config.format is WireFormat.UNIFIED:
        from bot.providers.unified import UnifiedProvider

        provider_class = UnifiedProvider
    elif config.format is WireFormat.CHAT:
        from bot.providers.chat import ChatProvider

        provider_class = ChatProvider
    else:  # pragma: no cover - WireFormat is closed; config validation refuses others
        raise ValueError(f"unknown wire format {config.format!r}")
    return provider_class(config, client, sleep=sleep, clock=clock)


__all__ = ["build_provider"]
