"""Architecture rules as assertions (architecture.md, "Direction of dependencies").

- ``bot/`` never imports a platform SDK or aiosqlite; only its composition root
  (``bot.cli``) may reach ``storage`` and ``adapters``.
- ``storage/`` never imports a platform SDK.
- Importing the whole core does not even load those libraries transitively.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDKS = {"discord", "telegram", "aiosqlite"}
COMPOSITION_ROOT = ("bot.cli", "bot.__main__")


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_bot_imports_no_platform_sdk_or_sqlite() -> None:
    offenders = []
    for module, path in _modules("bot").items():
        tops = {_top(n) for n in _imports(path)}
        forbidden = tops & SDKS
        if not module.startswith(COMPOSITION_ROOT):
            forbidden |= tops & {"storage", "adapters"}
        if forbidden:
            offenders.append(f"{module}: {sorted(forbidden)}")
    assert offenders == []


def test_storage_imports_no_platform_sdk() -> None:
    banned = {"discord", "telegram", "adapters"}
    offenders = [
        f"{module}: {sorted({_top(n) for n in _imports(path)} & banned)}"
        for module, path in _modules("storage").items()
        if {_top(n) for n in _imports(path)} & banned
    ]
    assert offenders == []


def test_core_does_not_load_sdks_transitively() -> None:
    core = [m for m in _modules("bot") if not m.startswith(COMPOSITION_ROOT)]
    assert len(core) > 5
    script = (
        "import importlib, json, sys\n"
        f"for m in {core!r}: importlib.import_module(m)\n"
        f"print(json.dumps(sorted(set(sys.modules) & set({sorted(SDKS)!r}))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []
