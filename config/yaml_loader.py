"""Load a YAML file into a pydantic model, turning every problem into one exact ConfigError.

Reused by every rule file (teams, clocks, wall, scoring, alerts, on-call): give it a
path and a model whose configs use ``extra="forbid"``; it reports the first problem as
``<file>: <dotted.key[0]>: <short message>``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config.errors import FILE_KEY, ConfigError, FieldProblem, Location, dotted_key

M = TypeVar("M", bound=BaseModel)

_JsonSchema = dict[str, Any]


def load_yaml_model(path: Path, model: type[M]) -> M:
    """Read ``path`` as YAML and validate it as ``model``; raise ConfigError on the first problem.

    An empty file is validated as an empty mapping, so required keys are reported missing.
    """
    document = read_yaml(path)
    try:
        return model.model_validate({} if document is None else document)
    except ValidationError as error:
        raise config_error_from_validation(str(path), model, error) from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with the safe loader, rejecting duplicate keys."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(file, FILE_KEY, "file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(file, FILE_KEY, "not valid UTF-8 text") from None
    except OSError as error:
        raise ConfigError(file, FILE_KEY, f"cannot read file ({error.strerror})") from None
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # nosec B506 # a SafeLoader subclass
    except _DuplicateKey as duplicate:
        raise ConfigError(file, FILE_KEY, str(duplicate)) from None
    except yaml.MarkedYAMLError as error:
        raise ConfigError(file, FILE_KEY, _describe_yaml_error(error)) from None
    except yaml.YAMLError as error:
        raise ConfigError(file, FILE_KEY, f"invalid YAML: {error}") from None


def config_error_from_validation(
    file: str, model: type[BaseModel], error: ValidationError
) -> ConfigError:
    """Turn the first error of a pydantic ValidationError into a located ConfigError."""
    details = error.errors(include_url=False)[0]
    location, message = describe_error(model, details)
    return ConfigError(file, dotted_key(location), message)


def describe_error(model: type[BaseModel], details: ErrorDetails) -> tuple[Location, str]:
    """Return the document location and a short human message for one pydantic error."""
    location: Location = tuple(part for part in details["loc"] if part != "[key]")
    error_type = details["type"]
    value = details.get("input")
    if error_type == "missing":
        return location, "missing required key"
    if error_type == "extra_forbidden":
        return location, "unknown key"
    if error_type in ("value_error", "assertion_error"):
        cause = details.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblem):
            return location + cause.at, cause.message
        return location, str(cause) if cause is not None else details["msg"]
    if details["loc"] and details["loc"][-1] == "[key]":
        return location, f"invalid key {show_value(location[-1])}: {_lower_first(details['msg'])}"
    expected = _expected_at(model, location)
    if expected is None:
        return location, f"{_lower_first(details['msg'])}, got {show_value(value)}"
    return location, f"must be {expected}, got {show_value(value)}"


def show_value(value: object) -> str:
    """Show a YAML value the way its author wrote it: 'text', 12, true, null, a list."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "a list" if value else "an empty list"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    return repr(value)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _describe_yaml_error(error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    problem = error.problem or error.context or "syntax error"
    if mark is None:
        return f"invalid YAML: {problem}"
    return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


# --- expected-value descriptions from the model's JSON schema -------------------------


def _expected_at(model: type[BaseModel], location: Sequence[str | int]) -> str | None:
    root = _schema_of(model)
    if root is None:
        return None
    node: _JsonSchema | None = root
    for part in location:
        if node is None:
            return None
        node = _child(root, node, part)
    return None if node is None else _describe(root, node)


@functools.cache
def _schema_of(model: type[BaseModel]) -> _JsonSchema | None:
    try:
        return model.model_json_schema(mode="validation")
    except Exception:  # a type without a JSON schema: fall back to pydantic's own message
        return None


def _resolve(root: _JsonSchema, node: _JsonSchema) -> _JsonSchema:
    while "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        extra = {key: value for key, value in node.items() if key != "$ref"}
        node = {**root.get("$defs", {}).get(name, {}), **extra}
    return node


def _branches(root: _JsonSchema, node: _JsonSchema) -> list[_JsonSchema]:
    node = _resolve(root, node)
    options = node.get("anyOf") or node.get("oneOf")
    if not options:
        return [node]
    return [_resolve(root, option) for option in options if option.get("type") != "null"]


def _child(root: _JsonSchema, node: _JsonSchema, part: str | int) -> _JsonSchema | None:
    for branch in _branches(root, node):
        if isinstance(part, int):
            prefix = branch.get("prefixItems")
            if isinstance(prefix, list) and part < len(prefix):
                return dict(prefix[part])
            if isinstance(branch.get("items"), dict):
                return dict(branch["items"])
        else:
            properties = branch.get("properties", {})
            if part in properties:
                return dict(properties[part])
            if isinstance(branch.get("additionalProperties"), dict):
                return dict(branch["additionalProperties"])
    return None


def _describe(root: _JsonSchema, node: _JsonSchema) -> str | None:
    branches = _branches(root, node)
    if len(branches) != 1:
        described = [_describe_single(branch) for branch in branches]
        if any(text is None for text in described):
            return None
        return " or ".join(text for text in described if text)
    return _describe_single(branches[0])


def _describe_single(node: _JsonSchema) -> str | None:
    if "enum" in node:
        return "one of " + ", ".join(show_value(option) for option in node["enum"])
    if "const" in node:
        return show_value(node["const"])
    kind = node.get("type")
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        return noun + _bounds(node)
    if kind == "string":
        if node.get("minLength") == 1 and "maxLength" not in node and "pattern" not in node:
            return "a non-empty string"
        details = []
        if "minLength" in node or "maxLength" in node:
            details.append(f"of {node.get('minLength', 0)} to {node.get('maxLength', 'any')} chars")
        if "pattern" in node:
            details.append(f"matching {node['pattern']}")
        return " ".join(["a string", *details])
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        return "a non-empty list" if node.get("minItems", 0) >= 1 else "a list"
    if kind == "object":
        return "a mapping"
    return None


def _bounds(node: _JsonSchema) -> str:
    if "minimum" in node and "maximum" in node:
        return f" from {show_value(node['minimum'])} to {show_value(node['maximum'])}"
    limits = []
    for keyword, symbol in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if keyword in node:
            limits.append(f"{symbol} {show_value(node[keyword])}")
    return (" " + " and ".join(limits)) if limits else ""


# --- a safe loader that refuses duplicate keys ------------------------------------------


class _DuplicateKey(yaml.YAMLError):
    pass


class _StrictSafeLoader(yaml.SafeLoader):
    """yaml.SafeLoader that rejects a key repeated in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                mark = key_node.start_mark
                raise _DuplicateKey(
                    f"duplicate key {show_value(key)} at line {mark.line + 1}, "
                    f"column {mark.column + 1}"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)
