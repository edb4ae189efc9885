"""Errors raised while loading settings and rule files."""

from __future__ import annotations

from collections.abc import Sequence

#: A location inside a document: mapping keys and list indexes, outermost first.
Location = tuple[str | int, ...]

FILE_KEY = "(file)"
"""The key reported for problems with a file as a whole (missing, unreadable, bad YAML)."""

ENVIRONMENT = "environment"
"""The ``file`` reported for problems with settings taken from environment variables."""


class ConfigError(ValueError):
    """A configuration problem, located by file and dotted key.

    ``str(error)`` is ``"<file>: <key>: <message>"``, for example
    ``teams.yaml: teams[1].handlers[0].capacity: must be an integer >= 1, got 'ten'``.
    """

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file = file
        self.key = key
        self.message = message

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str, str]]:
        return (type(self), (self.file, self.key, self.message))


class FieldProblem(ValueError):
    """Raised by model validators to point at a key below the model being validated.

    ``at`` is relative to the model whose validator raises it; the YAML loader
    prefixes the model's own location, so a cross-field check on ``TeamsConfig``
    raising ``FieldProblem(("teams", 3, "id"), "duplicate team id 'x'")`` is
    reported as ``teams[3].id: duplicate team id 'x'``.
    """

    def __init__(self, at: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.at: Location = tuple(at)
        self.message = message


def dotted_key(location: Sequence[str | int]) -> str:
    """Render a location as a dotted key with list indexes: ``teams[1].handlers[0].capacity``.

    Mapping keys that are not plain names (for example ``wip.investigation``) are
    quoted in brackets: ``thresholds["wip.investigation"].red``.
    """
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _is_plain_name(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text or FILE_KEY


def _is_plain_name(name: str) -> bool:
    return bool(name) and all(ch.isalnum() or ch in "_-" for ch in name)
