"""``sora-bot check``: validate the config and probe every provider with a free request."""

from __future__ import annotations

import argparse
import asyncio

import httpx

from bot.config import Settings, load_settings
from bot.models import ProbeResult
from bot.providers import build_provider


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check",
        help="validate the config and probe each provider",
        description="Validate the configuration, then list each relay's models with its key.",
    )
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    print(_summary(settings))
    if not settings.providers:
        print("no providers configured: add a [[providers]] table (see README)")
        return 1
    async with httpx.AsyncClient(timeout=20.0) as client:
        providers = [build_provider(config, client) for config in settings.providers]
        results = await asyncio.gather(*(p.probe() for p in providers))
    print(render_table(settings, results))
    return 0 if all(r.ok for r in results) else 1


def _summary(settings: Settings) -> str:
    telegram = "token set" if settings.telegram.token else "not configured"
    discord = "token set" if settings.discord.token else "not configured"
    return (
        f"config ok: storage {settings.storage.path}, telegram {telegram}, discord {discord}, "
        f"quota {settings.quota.default_limit}/{settings.quota.period}"
    )


def render_table(settings: Settings, results: list[ProbeResult]) -> str:
    rows = [("PROVIDER", "FORMAT", "MODELS", "RESULT")]
    for config, result in zip(settings.providers, results, strict=True):
        models = ", ".join(config.model_capabilities())
        verdict = ("ok" if result.ok else "FAIL") + (
            f" ({result.detail})" if result.detail != "ok" else ""
        )
        rows.append((config.name, config.format.value, models, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]
        for row in rows
    )
