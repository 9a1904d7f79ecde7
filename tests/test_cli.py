"""The operator's commands: ``generate`` (simulated and against a configured relay) and
``check``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import av
import pytest

from bot.cli import build_parser, check, generate
from bot.providers.simulator import Fault, Simulator

BIN = Path(sys.executable).parent


def test_generate_simulate_from_the_console_script(tmp_path: Path) -> None:
    out = tmp_path / "cat.mp4"
    script = BIN / "sora-bot"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    done = subprocess.run(
        [*command, "generate", "--simulate", "a cat", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LANG": "en_US.UTF-8"},
    )
    assert done.returncode == 0, done.stderr
    assert "generating" in done.stderr and "%" in done.stderr
    assert f"saved {out}" in done.stderr
    with av.open(str(out)) as container:
        kinds = sorted(stream.type for stream in container.streams)
    assert kinds == ["audio", "video"]


@pytest.fixture
async def sim(tmp_path: Path):
    async with Simulator(tmp_path / "sim", job_seconds=0.3, poll_after_ms=20) as simulator:
        yield simulator


def config_file(tmp_path: Path, sim: Simulator, *, key: str = "sim-key") -> Path:
    path = tmp_path / "sora-bot.toml"
    providers = "".join(
        f"""
[[providers]]
name = "{fmt}"
format = "{fmt}"
base_url = "{sim.base_url}"
api_key = "{key}"
models = ["sim-video"]
poll_interval = 0.05
"""
        for fmt in ("videos", "unified", "chat")
    )
    path.write_text(f'[storage]\npath = "{tmp_path}/bot.db"\n{providers}', encoding="utf-8")
    return path


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("fmt", ["videos", "unified", "chat"])
async def test_generate_with_a_configured_provider(
    sim: Simulator, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / f"{fmt}.mp4"
    args = parse(
        "--config",
        str(config_file(tmp_path, sim)),
        "generate",
        "a fox",
        "--provider",
        fmt,
        "--orientation",
        "landscape",
        "--out",
        str(out),
    )
    assert await generate.run(args) == 0
    assert out.stat().st_size > 0
    err = capsys.readouterr().err
    assert "upstream id:" in err and "x" in err


async def test_generate_with_an_image_uploads_it_cropped(sim: Simulator, tmp_path: Path) -> None:
    from PIL import Image

    image = tmp_path / "photo.png"
    Image.new("RGB", (500, 300), "orange").save(image)
    args = parse(
        "--config",
        str(config_file(tmp_path, sim)),
        "generate",
        "animate it",
        "--provider",
        "videos",
        "--image",
        str(image),
        "--out",
        str(tmp_path / "v.mp4"),
    )
    assert await generate.run(args) == 0
    upload = next(r for r in sim.requests if r.form and "input_reference" in r.form)
    assert upload.form is not None and upload.form["size"] == "720x1280"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seconds", "7"], "4, 8, 12"),
        (["--model", "nope"], "nope"),
        (["--provider", "nope"], "nope"),
        (["--image", "/etc/hostname"], "image"),
    ],
)
async def test_generate_refuses_bad_input_before_sending(
    sim: Simulator,
    tmp_path: Path,
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["--config", str(config_file(tmp_path, sim)), "generate", "a fox"]
    provider = [] if "--provider" in argv or "--model" in argv else ["--provider", "videos"]
    args = parse(*base, *provider, *argv, "--out", str(tmp_path / "x.mp4"))
    try:
        code = await generate.run(args)
    except Exception as exc:  # ConfigError for an unknown provider name
        code, err = 2, str(exc)
    else:
        err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert [r for r in sim.requests if r.method == "POST"] == []


async def test_generate_reports_an_upstream_failure(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.inject(Fault.MODERATION)
    args = parse(
        "--config",
        str(config_file(tmp_path, sim)),
        "generate",
        "a fox",
        "--provider",
        "videos",
        "--out",
        str(tmp_path / "x.mp4"),
    )
    assert await generate.run(args) == 1
    assert "failed (content_policy)" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()


async def test_check_probes_every_provider(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await check.run(parse("--config", str(config_file(tmp_path, sim)), "check")) == 0
    out = capsys.readouterr().out
    assert "config ok" in out
    for fmt in ("videos", "unified", "chat"):
        assert any(
            line.startswith(fmt) and line.rstrip().endswith("ok") for line in out.splitlines()
        )


async def test_check_names_a_bad_key_without_printing_it(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, sim, key="sk-wrong-key-123456")
    assert await check.run(parse("--config", str(path), "check")) == 1
    out = capsys.readouterr().out
    assert "FAIL (auth" in out and "sk-wrong-key-123456" not in out


async def test_generate_refuses_an_over_long_prompt(
    sim: Simulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(
        "--config",
        str(config_file(tmp_path, sim)),
        "generate",
        "x" * 2001,
        "--provider",
        "videos",
        "--out",
        str(tmp_path / "x.mp4"),
    )
    assert await generate.run(args) == 2
    assert "2000" in capsys.readouterr().err
    assert [r for r in sim.requests if r.method == "POST"] == []
