"""``sora-bot generate``: one video from one provider, with a live progress bar.

The operator's way to test a relay key before inviting the bot anywhere; with
``--simulate`` it runs against the built-in simulator, offline and without a key.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path

import httpx

from bot import texts
from bot.cli.progress import ProgressLine
from bot.config import BotConfig, ProviderConfig, Settings, load_settings
from bot.errors import ConfigError, InvalidRequest, MediaError
from bot.media import inspect_image
from bot.models import (
    Accepted,
    Completed,
    Failed,
    GenerationRequest,
    ImageInput,
    Orientation,
    ParentRef,
    Progress,
    Queued,
    WireFormat,
)
from bot.providers import build_provider
from bot.providers.simulator import Simulator


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "generate",
        help="generate one video and save it (test a relay key)",
        description="Generate one video with a configured provider (or the simulator).",
    )
    p.add_argument("prompt", help="what the video should show")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to save the MP4")
    p.add_argument("--provider", metavar="NAME", help="provider name from the config")
    p.add_argument("--model", help="model name (default: the provider's first model)")
    p.add_argument("--seconds", type=int, help="duration (default: the model's default)")
    p.add_argument(
        "--orientation", choices=[o.value for o in Orientation], default=Orientation.PORTRAIT.value
    )
    p.add_argument("--image", type=Path, metavar="FILE", help="an image to animate")
    p.add_argument("--image-url", metavar="URL", help="a public image URL (unified format)")
    p.add_argument("--remix-of", metavar="ID", help="upstream id of a finished video to remix")
    p.add_argument(
        "--simulate", action="store_true", help="use the built-in simulator: no key, no network"
    )
    p.add_argument(
        "--format",
        choices=[f.value for f in WireFormat],
        default=WireFormat.VIDEOS.value,
        help="with --simulate: the wire format to simulate (default: videos)",
    )
    p.set_defaults(run=run)


def choose_provider(settings: Settings, name: str | None, model: str | None) -> ProviderConfig:
    """The provider named, else the only one serving ``model``, else the only one configured."""
    if name:
        return settings.provider(name)
    if not settings.providers:
        raise ConfigError("providers: none configured (add a [[providers]] table, or --simulate)")
    candidates = settings.providers
    if model:
        candidates = [p for p in candidates if model in p.model_capabilities()]
        if not candidates:
            allowed = sorted({m for p in settings.providers for m in p.model_capabilities()})
            raise InvalidRequest("unknown_model", model=model, allowed=", ".join(allowed))
    if len(candidates) > 1:
        raise InvalidRequest(
            "ambiguous_provider",
            model=model or "?",
            allowed=", ".join(p.name for p in candidates),
        )
    return candidates[0]


async def run(args: argparse.Namespace) -> int:
    locale = texts.resolve_locale(os.environ.get("LANG"))
    max_prompt = BotConfig().prompt_max_chars
    async with AsyncExitStack() as stack:
        if args.simulate:
            sim = Simulator(job_seconds=6.0, poll_after_ms=300, video_scale=0.5)
            await stack.enter_async_context(sim)
            config = sim.provider_config(args.format)
        else:
            settings = load_settings(args.config)
            locale = texts.resolve_locale(os.environ.get("LANG"), settings.bot.locale)
            max_prompt = settings.bot.prompt_max_chars
            try:
                config = choose_provider(settings, args.provider, args.model)
            except InvalidRequest as exc:
                return _refuse(locale, exc)
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=60.0))
        provider = build_provider(config, client)
        try:
            request = _request(args, provider.capabilities.models)
            if len(request.prompt) > max_prompt:
                raise InvalidRequest(
                    "prompt_too_long", limit=max_prompt, length=len(request.prompt)
                )
            provider.validate(request)
        except InvalidRequest as exc:
            return _refuse(locale, exc)
        workdir = Path(tempfile.mkdtemp(prefix="sora-bot-generate-"))
        stack.callback(shutil.rmtree, workdir, True)
        return await _follow(provider.generate(request, workdir), args.out, locale)
    return 1  # pragma: no cover - the stack never swallows exceptions


def _request(args: argparse.Namespace, models: dict) -> GenerationRequest:  # type: ignore[type-arg]
    model = args.model or next(iter(models))
    caps = models.get(model)
    seconds = args.seconds or (caps.default_seconds if caps else 0)
    image = None
    if args.image or args.image_url:
        if args.image:
            try:
                inspect_image(args.image)
            except (OSError, MediaError) as exc:
                raise InvalidRequest("image_unreadable") from exc
        image = ImageInput(path=args.image, url=args.image_url)
    parent = ParentRef(upstream_id=args.remix_of, prompt="") if args.remix_of else None
    return GenerationRequest(
        prompt=" ".join(args.prompt.split()),
        model=model,
        seconds=seconds,
        orientation=Orientation(args.orientation),
        image=image,
        parent=parent,
    )


async def _follow(events, out: Path, locale: str) -> int:  # type: ignore[no-untyped-def]
    bar = ProgressLine()
    bar.show("submitting")
    async for event in events:
        match event:
            case Accepted(upstream_id=upstream_id):
                bar.show("accepted")
                bar.done(f"upstream id: {upstream_id}")
            case Queued():
                bar.show("queued")
            case Progress(percent=percent):
                bar.show("generating", percent)
            case Completed(video=video, upstream_id=upstream_id, video_url=url):
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(video.path, out)
                bar.show("done", 100)
                bar.done(
                    f"saved {out} ({video.size_bytes / 1e6:.1f} MB, {video.width}x{video.height}, "
                    f"{video.duration:.1f} s, audio: {'yes' if video.has_audio else 'no'})"
                )
                if url:
                    print(f"upstream link: {url}")
                return 0
            case Failed(category=category, message=message, upstream_id=upstream_id):
                bar.done(f"failed ({category}): {message}")
                if upstream_id:
                    print(f"upstream id: {upstream_id}", file=sys.stderr)
                return 1
    return 1


def _refuse(locale: str, exc: InvalidRequest) -> int:
    print(f"sora-bot: {texts.t(locale, exc.key, **exc.params)}", file=sys.stderr)
    return 2
