"""The configuration reference is generated from the settings model and cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.cli import main
from bot.cli.config_reference import END, REGENERATE, START, block_of, render, replace_block
from bot.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_carries_the_current_reference() -> None:
    documented = block_of(README.read_text(encoding="utf-8"))
    assert documented == render(), (
        f"README.md's configuration reference differs from the settings model; run: {REGENERATE}"
    )


def _leaf_keys(model: type[BaseModel], path: str) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        keys.append(f"{path}.{name}")
        assert field.description, f"{path}.{name} has no docstring in bot/config.py"
    return keys


def test_every_key_of_every_section_is_listed_with_its_meaning() -> None:
    reference = render()
    for section, field in Settings.model_fields.items():
        assert f"### `[{section}]`" in reference or f"### `[[{section}]]`" in reference
        model = field.annotation
        if not isinstance(model, type):  # list[ProviderConfig]
            model = model.__args__[0]  # type: ignore[union-attr]
        for key in _leaf_keys(model, section):
            assert f"| `{key.rsplit('.', 1)[1]}` |" in reference, key


def test_rows_show_type_default_environment_and_meaning() -> None:
    reference = render()
    assert (
        "| `default_limit` | integer (≥ 0) | `5` | `SORA_BOT_QUOTA__DEFAULT_LIMIT` | "
        "Credits per period for users without a custom limit. |"
    ) in reference
    assert "| `token` | secret string | *unset* | `SORA_BOT_TELEGRAM__TOKEN` |" in reference
    assert "| `base_url` | string | *required* | – |" in reference  # no env per list item
    assert "the whole list as JSON in `SORA_BOT_PROVIDERS`" in reference
    assert "### `[[providers.models]]`" in reference
    assert '| `period` | one of `day`, `week`, `month` | `"day"` |' in reference


def test_a_field_without_a_description_fails_loudly() -> None:
    from pydantic_settings import BaseSettings

    class Section(BaseModel):
        """A section."""

        undocumented: int = 1

    class Broken(BaseSettings):
        section: Section = Section()

    with pytest.raises(ValueError, match=r"section\.undocumented: no description"):
        render(Broken)


def test_check_and_write_keep_a_file_current(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = tmp_path / "README.md"
    document.write_text(f"# Title\n\n{START}\nstale\n{END}\n\nafter\n", encoding="utf-8")
    assert main(["config-reference", "--check", str(document)]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert main(["config-reference", "--write", str(document)]) == 0
    assert main(["config-reference", "--check", str(document)]) == 0
    text = document.read_text(encoding="utf-8")
    assert text.startswith("# Title\n\n") and text.endswith(f"{END}\n\nafter\n")
    assert block_of(text) == render()
    with pytest.raises(ValueError, match="markers"):
        replace_block("no markers here", render())
    (tmp_path / "plain.md").write_text("nothing\n", encoding="utf-8")
    assert main(["config-reference", "--write", str(tmp_path / "plain.md")]) == 2
