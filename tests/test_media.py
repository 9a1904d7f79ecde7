"""bot.media: streamed downloads over real loopback HTTP, probing, thumbnails, fitting, images."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from PIL import Image

from bot.errors import ErrorCategory, InvalidRequest, MediaError, ProviderError
from bot.media import (
    download_video,
    fit_to_size,
    inspect_image,
    make_thumbnail,
    prepare_image,
    probe_video,
    save_stream,
)
from bot.providers.synth import synthesize_mp4

MB = 1_000_000
SECRET = "sig=TOPSECRET"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1.5 s portrait clip with sound, shared by the download and thumbnail tests."""
    return synthesize_mp4(
        tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=1.5, width=180, height=320
    )


@pytest.fixture(scope="module")
def landscape_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_mp4(
        tmp_path_factory.mktemp("wide") / "wide.mp4", seconds=1.0, width=1280, height=720
    )


@pytest.fixture(scope="module")
def heavy_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of 640x360 at 4 Mb/s: bigger than the budgets the fit tests give it."""
    return synthesize_mp4(
        tmp_path_factory.mktemp("heavy") / "heavy.mp4",
        seconds=4,
        width=640,
        height=360,
        bitrate=4_000_000,
    )


Server = Callable[[web.Application], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Server]:
    """Start an aiohttp app on 127.0.0.1 (random port); yield a starter returning its base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def _files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _same_bytes(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def _mp4_head() -> bytes:
    """The first bytes of a real MP4: an ``ftyp`` box."""
    return (24).to_bytes(4, "big") + b"ftypisom" + b"\0\0\2\0" + b"isomiso2"


def _app(clip: Path, stall: asyncio.Event) -> web.Application:
    async def good(request: web.Request) -> web.StreamResponse:
        assert request.headers.get("Authorization") == "Bearer k"
        return web.FileResponse(clip, headers={"Content-Type": "video/mp4"})

    async def redirect(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/plain")

    async def plain(_: web.Request) -> web.StreamResponse:
        return web.FileResponse(clip, headers={"Content-Type": "video/mp4"})

    async def json_body(_: web.Request) -> web.StreamResponse:
        return web.json_response({"video_url": "https://cdn.example/v.mp4", "message": "ok"})

    async def html_body(_: web.Request) -> web.StreamResponse:
        return web.Response(
            text="<html><title>Just a moment</title></html>", content_type="text/html"
        )

    async def no_ftyp(_: web.Request) -> web.StreamResponse:
        return web.Response(body=b"\0" * 4096, content_type="video/mp4")

    async def big_declared(_: web.Request) -> web.StreamResponse:
        return web.Response(body=_mp4_head() + b"\0" * (3 * MB), content_type="video/mp4")

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(_mp4_head())
        for _ in range(48):  # 3 MB in 64 KiB pieces, without a Content-Length
            await response.write(b"\0" * 65_536)
        await response.write_eof()
        return response

    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = 1 * MB
        await response.prepare(request)
        await response.write(_mp4_head() + b"\0" * 200_000)
        assert request.transport is not None
        request.transport.close()  # the relay's 60 s proxy cut, mid-body
        return response

    async def stalled(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "video/mp4"})
        response.content_length = 1 * MB
        await response.prepare(request)
        await response.write(_mp4_head())
        await stall.wait()  # never set while the client waits: only its timeout ends this
        return response

    def status(code: int, body: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(_: web.Request) -> web.StreamResponse:
            return web.Response(status=code, text=body, content_type="application/json")

        return handler

    app = web.Application()
    app.add_routes(
        [
            web.get("/good", good),
            web.get("/redirect", redirect),
            web.get("/plain", plain),
            web.get("/json", json_body),
            web.get("/html", html_body),
            web.get("/no-ftyp", no_ftyp),
            web.get("/big-declared", big_declared),
            web.get("/big-chunked", big_chunked),
            web.get("/cut", cut),
            web.get("/stalled", stalled),
            web.get("/gone", status(404, '{"error": {"message": "not found"}}')),
            web.get("/forbidden", status(403, "<Error><Code>AccessDenied</Code></Error>")),
            web.get("/bad-gateway", status(502, "")),
            web.get("/unauthorized", status(401, '{"error": {"message": "无效的令牌"}}')),
        ]
    )
    return app


@pytest.fixture
async def base_url(serve: Server, clip: Path) -> AsyncIterator[str]:
    stall = asyncio.Event()
    yield await serve(_app(clip, stall))
    stall.set()


async def _fails(
    client: httpx.AsyncClient,
    url: str,
    dest_dir: Path,
    *,
    max_bytes: int = 2 * MB,
    timeout: float = 10.0,  # noqa: ASYNC109 - passed through to download_video
) -> ProviderError:
    """Run a download that must fail; check it left nothing behind; return the error."""
    with pytest.raises(ProviderError) as info:
        await download_video(client, url, dest_dir, max_bytes=max_bytes, timeout=timeout)
    assert _files(dest_dir) == [], "a failed download must leave no file behind"
    return info.value


# ----------------------------------------------------------------------------- downloads


async def test_download_and_probe(
    client: httpx.AsyncClient, base_url: str, tmp_path: Path, clip: Path
) -> None:
    video = await download_video(
        client,
        f"{base_url}/good",
        tmp_path,
        headers={"Authorization": "Bearer k"},
        max_bytes=2 * MB,
    )
    assert video.path.parent == tmp_path and video.path.suffix == ".mp4"
    assert _same_bytes(video.path, clip)
    assert video.size_bytes == len(_read(clip))
    assert (video.width, video.height, video.has_audio) == (180, 320, True)
    assert video.duration == pytest.approx(1.5, abs=0.1)
    assert _files(tmp_path) == [video.path]  # no .part left


async def test_download_follows_redirects_into_unique_files(
    client: httpx.AsyncClient, base_url: str, tmp_path: Path
) -> None:
    first = await download_video(client, f"{base_url}/redirect", tmp_path, max_bytes=2 * MB)
    second = await download_video(client, f"{base_url}/redirect", tmp_path, max_bytes=2 * MB)
    assert first.path != second.path
    assert first.size_bytes == second.size_bytes > 0


@pytest.mark.parametrize(
    ("path", "expected_words"),
    [("/json", "application/json"), ("/html", "text/html"), ("/no-ftyp", "ftyp")],
)
async def test_non_mp4_bodies_are_refused(
    client: httpx.AsyncClient, base_url: str, tmp_path: Path, path: str, expected_words: str
) -> None:
    error = await _fails(client, f"{base_url}{path}", tmp_path)
    assert error.category is ErrorCategory.GENERATION_FAILED
    assert expected_words in error.message
    assert "MP4" in error.message


async def test_html_explanation_quotes_the_page_title(
    client: httpx.AsyncClient, base_url: str, tmp_path: Path
) -> None:
    error = await _fails(client, f"{base_url}/html", tmp_path)
    assert "Just a moment" in error.message
    assert "<html>" not in error.message


@pytest.mark.parametrize("path", ["/big-declared", "/big-chunked"])
async def test_size_cap(
    client: httpx.AsyncClient, base_url: str, tmp_path: Path, path: str
) -> None:
    error = await _fails(client, f"{base_url}{path}", tmp_path, max_bytes=1 * MB)
    assert error.category is ErrorCategory.TRANSIENT
    assert "1 MB" in error.message


@pytest.mark.parametrize(
    ("path", "status", "category"),
    [
        ("/gone", 404, ErrorCategory.EXPIRED),
        ("/forbidden", 403, ErrorCategory.EXPIRED),
        ("/bad-gateway", 502, ErrorCategory.EXPIRED),
        ("/unauthorized", 401, ErrorCategory.AUTH),
    ],
)
async def test_http_statuses(
    client: httpx.AsyncClient,
    base_url: str,
    tmp_path: Path,
    path: str,
    status: int,
    category: ErrorCategory,
) -> None:
    error = await _fails(client, f"{base_url}{path}", tmp_path)
    assert (error.category, error.status) == (category, status)


async def test_cut_connection_is_transient_and_leaves_nothing(
    client: httpx.AsyncClient, base_url: str, tmp_path: Path
) -> None:
    error = await _fails(client, f"{base_url}/cut?{SECRET}", tmp_path)
    assert error.category is ErrorCategory.TRANSIENT
    assert "TOPSECRET" not in str(error)


async def test_overall_timeout_is_transient(
    client: httpx.AsyncClient, base_url: str, tmp_path: Path
) -> None:
    error = await _fails(client, f"{base_url}/stalled?{SECRET}", tmp_path, timeout=0.3)
    assert error.category is ErrorCategory.TRANSIENT
    assert "TOPSECRET" not in str(error)


async def test_connection_refused_is_transient(client: httpx.AsyncClient, tmp_path: Path) -> None:
    with socket.socket() as bound_not_listening:  # a port that refuses connections for sure
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        error = await _fails(client, f"http://127.0.0.1:{port}/v.mp4?{SECRET}", tmp_path)
    assert error.category is ErrorCategory.TRANSIENT
    assert "ConnectError" in error.message and "TOPSECRET" not in str(error)


async def test_save_stream_with_mock_transport_checks_content_type(tmp_path: Path) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_mp4_head(), headers={"Content-Type": "text/plain"})

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock,
        mock.stream("GET", "http://relay.test/v.mp4") as response,
    ):
        with pytest.raises(ProviderError) as info:
            await save_stream(response, tmp_path / "v.mp4", max_bytes=MB)
    assert info.value.category is ErrorCategory.GENERATION_FAILED
    assert "text/plain" in info.value.message
    assert _files(tmp_path) == []


async def test_save_stream_writes_body_and_counts_bytes(tmp_path: Path) -> None:
    body = _mp4_head() + bytes(range(256)) * 1000

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "video/mp4"})

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(handler)) as mock,
        mock.stream("GET", "http://relay.test/v.mp4") as response,
    ):
        written = await save_stream(response, tmp_path / "v.mp4", max_bytes=MB)
    assert written == len(body)
    assert _files(tmp_path) == [tmp_path / "v.mp4"]
    assert _read(tmp_path / "v.mp4") == body


# ----------------------------------------------------------------------------- probe


def test_probe_rejects_non_video(tmp_path: Path) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(_mp4_head() + b"\0" * 1000)
    with pytest.raises(MediaError):
        probe_video(fake)


# ----------------------------------------------------------------------------- thumbnails


@pytest.mark.parametrize("which", ["portrait", "landscape"])
def test_thumbnail_respects_telegram_limits(
    which: str, clip: Path, landscape_clip: Path, tmp_path: Path
) -> None:
    source = clip if which == "portrait" else landscape_clip
    thumb = make_thumbnail(source, tmp_path / "thumb.jpg")
    assert thumb.stat().st_size < 200_000
    with Image.open(thumb) as image:
        assert image.format == "JPEG"
        # the portrait clip is 180x320 already; the 1280x720 one is scaled to 320 wide
        assert image.size == ((180, 320) if which == "portrait" else (320, 180))


def test_thumbnail_lowers_quality_and_size_to_fit_a_small_budget(
    landscape_clip: Path, tmp_path: Path
) -> None:
    thumb = make_thumbnail(landscape_clip, tmp_path / "t.jpg", max_side=320, max_bytes=2_000)
    assert thumb.stat().st_size < 2_000
    with Image.open(thumb) as image:
        assert max(image.size) <= 320


# ----------------------------------------------------------------------------- fit_to_size


def test_fit_to_size_shrinks_under_budget(heavy_clip: Path, tmp_path: Path) -> None:
    source = probe_video(heavy_clip)
    before = heavy_clip.read_bytes()
    budget = source.size_bytes // 3
    fitted = fit_to_size(source, budget, tmp_path / "fitted.mp4")
    assert fitted.size_bytes <= budget
    assert fitted.path == tmp_path / "fitted.mp4"
    assert fitted.has_audio
    assert fitted.width > 0 and fitted.width % 2 == 0 and fitted.height % 2 == 0
    assert fitted.width / fitted.height == pytest.approx(640 / 360, rel=0.02)
    assert fitted.duration == pytest.approx(4.0, abs=0.2)
    assert heavy_clip.read_bytes() == before  # the source is untouched
    assert not (tmp_path / "fitted.part").exists()


def test_fit_to_size_impossible_budget(heavy_clip: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaError):
        fit_to_size(probe_video(heavy_clip), 20_000, tmp_path / "tiny.mp4")
    assert list(tmp_path.iterdir()) == []


def test_fit_to_size_scales_down_for_thin_budgets(heavy_clip: Path, tmp_path: Path) -> None:
    from bot.media.transcode import plan_encode

    source = probe_video(heavy_clip)
    budget = 80_000
    plan = plan_encode(source, budget, fps=12)
    assert plan.width < 640 and plan.height < 360
    assert plan.width % 2 == 0 and plan.height % 2 == 0
    assert plan.width / plan.height == pytest.approx(640 / 360, rel=0.02)
    fitted = fit_to_size(source, budget, tmp_path / "small.mp4")
    assert fitted.size_bytes <= budget and fitted.has_audio
    assert (fitted.width, fitted.height) == (plan.width, plan.height)


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize(("name", "fmt"), [("a.png", "PNG"), ("a.jpg", "JPEG"), ("a.webp", "WEBP")])
def test_inspect_image_reads_size(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    Image.new("RGB", (123, 45), (10, 200, 30)).save(path, format=fmt)
    assert inspect_image(path) == (123, 45)


def test_inspect_image_refuses_text_and_truncated_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("hello, not an image")
    truncated = tmp_path / "cut.png"
    Image.effect_noise((200, 200), 64).save(truncated, format="PNG")
    truncated.write_bytes(truncated.read_bytes()[:300])
    for path in (text, truncated):
        with pytest.raises(InvalidRequest) as info:
            inspect_image(path)
        assert info.value.key == "image_unreadable"


@pytest.mark.parametrize(("width", "height"), [(720, 1280), (1280, 720)])
def test_prepare_image_has_exact_size(tmp_path: Path, width: int, height: int) -> None:
    source = tmp_path / "in.png"
    Image.new("RGBA", (1000, 600), (255, 0, 0, 128)).save(source)
    dest = prepare_image(source, width, height, tmp_path / "out.jpg")
    with Image.open(dest) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (width, height))


def test_prepare_image_refuses_non_images(tmp_path: Path) -> None:
    text = tmp_path / "x.jpg"
    text.write_text("{}")
    with pytest.raises(InvalidRequest):
        prepare_image(text, 720, 1280, tmp_path / "out.jpg")
