"""``sora-bot config-reference``: the configuration reference, generated from ``Settings``.

Walks the settings model (sections, the ``[[providers]]`` list and its model tables) and
renders one Markdown table per section: key, type, default, environment variable and
meaning. The meaning is each field's description, taken from the docstring under it in
``bot/config.py`` (``use_attribute_docstrings``), so the reference cannot drift from the
code: the README keeps a copy between two markers and a test compares it with this output.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from bot.config import Settings

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
REGENERATE = "sora-bot config-reference --write README.md"

_SCALARS: dict[type, str] = {
    bool: "bool",
    int: "integer",
    float: "number",
    str: "string",
    Path: "path",
    SecretStr: "secret string",
}
_BOUNDS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "≤"),
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "config-reference",
        help="print the configuration reference (Markdown, from the settings model)",
        description="Render every configuration key, its type, default, environment "
        "variable and meaning as Markdown tables, from the settings model itself.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", type=Path, metavar="FILE", help="update the block in FILE")
    mode.add_argument("--check", type=Path, metavar="FILE", help="exit 1 if FILE's block differs")
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    reference = render()
    if args.write is None and args.check is None:
        print(reference, end="")
        return 0
    return _update(args.write or args.check, reference, check_only=args.check is not None)


def _update(path: Path, reference: str, *, check_only: bool) -> int:
    """Write (or only compare) the reference block of ``path``; the exit code."""
    try:
        document = path.read_text(encoding="utf-8")
        updated = replace_block(document, reference)
    except (OSError, ValueError) as exc:
        print(f"sora-bot: {path}: {exc}", file=sys.stderr)
        return 2
    if check_only:
        if updated != document:
            print(f"sora-bot: {path} is out of date; run: {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    if updated != document:
        path.write_text(updated, encoding="utf-8")
    print(f"{path}: configuration reference {'updated' if updated != document else 'current'}")
    return 0


def replace_block(document: str, reference: str) -> str:
    """``document`` with the text between the two markers replaced by ``reference``."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"needs the markers {START} and {END}, in that order")
    return f"{document[: start + len(START)]}\n{reference}{document[end:]}"


def block_of(document: str) -> str:
    """The text between the markers (what ``replace_block`` put there)."""
    start, end = document.find(START), document.find(END)
    if start < 0 or end < start:
        raise ValueError(f"needs the markers {START} and {END}, in that order")
    return document[start + len(START) + 1 : end]


# --------------------------------------------------------------------------- rendering


def render(settings: type[BaseSettings] = Settings) -> str:
    """The whole reference as Markdown, ending with a newline."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    delimiter = str(settings.model_config.get("env_nested_delimiter", "__"))
    lines = [
        "Generated from the settings model in `bot/config.py` by "
        f"`sora-bot config-reference`; do not edit by hand (`{REGENERATE}`).",
        "",
        "Every key of a `[section]` can also be set by the environment variable shown, which "
        "wins over the file; lists and tables take JSON there, e.g. "
        f"`{prefix}BOT{delimiter}MODERATORS='[\"telegram:42\"]'`.",
    ]
    for name, field in settings.model_fields.items():
        model, in_list = _model_of(field.annotation)
        if model is None:
            raise ValueError(f"{name}: top-level keys outside a section are not rendered")
        if in_list:
            env_var = f"{prefix}{name.upper()}"
            intro = f"{_meaning(name, field, model)} From the environment: the whole list as "
            intro += f"JSON in `{env_var}`."
            lines += _section(f"[[{name}]]", name, intro, model, None, delimiter)
        else:
            env_prefix = f"{prefix}{name.upper()}{delimiter}"
            lines += _section(
                f"[{name}]", name, _meaning(name, field, model), model, env_prefix, delimiter
            )
    return "\n".join(lines) + "\n"


def _section(
    title: str,
    path: str,
    intro: str,
    model: type[BaseModel],
    env_prefix: str | None,
    delimiter: str,
) -> Iterator[str]:
    yield from ("", f"### `{title}`", "", intro, "")
    yield "| key | type | default | environment variable | meaning |"
    yield "|---|---|---|---|---|"
    nested: list[tuple[str, type[BaseModel], bool]] = []
    for name, field in model.model_fields.items():
        env = f"`{env_prefix}{name.upper()}`" if env_prefix else "–"
        cells = (f"`{name}`", _type_of(field), _default_of(field), env)
        yield f"| {' | '.join(cells)} | {_cell(_meaning(f'{path}.{name}', field))} |"
        inner, in_list = _model_of(field.annotation)
        if inner is not None:
            nested.append((name, inner, in_list))
    for name, inner, in_list in nested:
        sub_title = f"[[{path}.{name}]]" if in_list else f"[{path}.{name}]"
        sub_env = f"{env_prefix}{name.upper()}{delimiter}" if env_prefix and not in_list else None
        intro = _meaning(f"{path}.{name}", FieldInfo(), inner)
        yield from _section(sub_title, f"{path}.{name}", intro, inner, sub_env, delimiter)


def _meaning(path: str, field: FieldInfo, model: type[BaseModel] | None = None) -> str:
    """The field's description, else its model's docstring; a missing one is a bug."""
    text = field.description or (model.__doc__ if model is not None else None)
    if not text or not text.strip():
        raise ValueError(f"{path}: no description; add a docstring under it in bot/config.py")
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (directly, in a union, or as list items) and whether it is
    a list of them."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _model_of(args[0])
    if origin is list:
        model, _ = _model_of(args[0])
        return model, model is not None
    if origin in (Union, types.UnionType):
        for arg in args:
            model, in_list = _model_of(arg)
            if model is not None:
                return model, in_list
        return None, False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _type_of(field: FieldInfo) -> str:
    return _with_bounds(_describe(field.annotation), field.metadata)


def _describe(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        metadata = [m for extra in args[1:] for m in _metadata_of(extra)]
        return _with_bounds(_describe(args[0]), metadata)
    if origin in (Union, types.UnionType):
        members = [_describe(arg) for arg in args if arg is not type(None)]
        return " or ".join(members)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin is list:
        item = _describe(args[0])
        return f"list of ({item})" if " or " in item else f"list of {item}"
    if origin is dict:
        return f"table of {_describe(args[0])} → {_describe(args[1])}"
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
        if issubclass(annotation, BaseModel):
            return "table"
        if annotation in _SCALARS:
            return _SCALARS[annotation]
    return str(annotation)


def _metadata_of(extra: Any) -> list[Any]:
    return list(extra.metadata) if isinstance(extra, FieldInfo) else [extra]


def _with_bounds(text: str, metadata: list[Any]) -> str:
    bounds = []
    for item in metadata:
        for kind, attribute, symbol in _BOUNDS:
            if isinstance(item, kind):
                bounds.append(f"{symbol} {getattr(item, attribute)}")
        if isinstance(item, annotated_types.MinLen) and item.min_length > 0:
            bounds.append(f"at least {item.min_length}")
        if isinstance(item, annotated_types.MaxLen):
            bounds.append(f"at most {item.max_length}")
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _default_of(field: FieldInfo) -> str:
    if field.is_required():
        return "*required*"
    value = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "–"
    return "*unset*" if value is None else f"`{_toml(value)}`"


def _toml(value: Any) -> str:
    """A default as it would be written in the TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return repr(value)
