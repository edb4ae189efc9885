"""``complaintops config-reference``: the settings reference (docs/configuration.md) in Markdown.

Generated from ``config.Settings``: every field's environment variable, type,
default and description. The committed docs/configuration.md must equal
this output (a test compares them); regenerate it with
``complaintops config-reference > docs/configuration.md``.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from pathlib import Path
from typing import Any, Final, Literal

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config import ENV_PREFIX, Settings, env_var

REGENERATE: Final = "complaintops config-reference > docs/configuration.md"

INTRODUCTION: Final = f"""\
# Configuration reference

<!-- Generated from config/settings.py by `{REGENERATE}`; do not edit by hand. -->

Every process reads its settings from environment variables named
`{ENV_PREFIX}<SETTING>`. Values are validated when a process starts: a bad
value stops it with the variable's name and the reason (`complaintops
check-config` and `complaintops doctor` report the same). Business rules
(teams, clocks, the wall display, alerts, on-call rotations, scoring) live
in YAML rule files instead; set `{env_var("rules_dir")}` to a folder holding
the files you change.

Lists are comma-separated. Settings marked *secret* never appear in logs or
in the settings' printed form; pass them through your platform's secret
store rather than a file under version control.
"""


def render_reference(model: type[Settings] = Settings) -> str:
    """The reference in Markdown: a summary table, then one section per setting."""
    fields = model.model_fields
    out = [INTRODUCTION, "## Summary", ""]
    out.append("| Variable | Type | Default |")
    out.append("| --- | --- | --- |")
    for name, field in fields.items():
        out.append(
            f"| [`{env_var(name)}`](#{_anchor(env_var(name))}) | {_type_text(field)} "
            f"| {_default_text(field)} |"
        )
    out.append("")
    out.append("## Settings")
    for name, field in fields.items():
        out.append("")
        out.append(f"### `{env_var(name)}`")
        out.append("")
        out.append(_markdown_text(field.description or "(no description)"))
        out.append("")
        out.append(f"- Type: {_type_text(field)}")
        constraints = _constraints_text(field)
        if constraints:
            out.append(f"- Allowed: {constraints}")
        out.append(f"- Default: {_default_text(field)}")
        if _is_secret(field):
            out.append("- Secret: yes")
    return "\n".join(out) + "\n"


def _markdown_text(text: str) -> str:
    """Plain text made safe for Markdown: ``<data_dir>`` is not an HTML tag."""
    return text.replace("<", "\\<")


def _anchor(heading: str) -> str:
    return heading.lower()


def _is_secret(field: FieldInfo) -> bool:
    return field.repr is False or _contains(field.annotation, SecretStr)


def _contains(annotation: Any, target: type) -> bool:
    if annotation is target:
        return True
    return any(_contains(arg, target) for arg in typing.get_args(annotation))


def _type_text(field: FieldInfo) -> str:
    return _describe_type(field.annotation)


def _describe_type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _describe_type(args[0])
    if origin in (typing.Union, types.UnionType):
        present = [arg for arg in args if arg is not type(None)]
        text = " or ".join(_describe_type(arg) for arg in present)
        return f"{text}, optional" if len(present) < len(args) else text
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin is list:
        return f"list of {_describe_type(args[0])}" if args else "list"
    simple = {
        str: "text",
        int: "integer",
        float: "number",
        bool: "boolean (`true`/`false`)",
        Path: "path",
        SecretStr: "text",
    }
    if annotation in simple:
        return simple[annotation]
    return getattr(annotation, "__name__", str(annotation))


def _constraints_text(field: FieldInfo) -> str:
    words = {
        annotated_types.Ge: ">=",
        annotated_types.Gt: ">",
        annotated_types.Le: "<=",
        annotated_types.Lt: "<",
    }
    parts: list[str] = []
    for item in field.metadata:
        for kind, symbol in words.items():
            if isinstance(item, kind):
                parts.append(f"{symbol} {getattr(item, kind.__name__.lower())}")
        if isinstance(item, annotated_types.MinLen):
            length = item.min_length
            parts.append("not empty" if length == 1 else f"at least {length} characters")
    return ", ".join(parts)


def _default_text(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, list | tuple) and not value:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | tuple):
        return "`" + ",".join(str(item) for item in value) + "`"
    return f"`{value}`"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config-reference",
        help="print the settings reference (docs/configuration.md) in Markdown",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(render_reference())
    return 0
