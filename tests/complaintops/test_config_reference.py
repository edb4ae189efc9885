"""docs/configuration.md is generated from the settings model and kept up to date."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field, SecretStr

from complaintops.cli import main
from complaintops.commands.docs import REGENERATE, _describe_type, render_reference
from config import Settings, env_var

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_committed_reference_equals_the_generated_one() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render_reference(), (
        f"docs/configuration.md is out of date: run `{REGENERATE}`"
    )


def test_the_command_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config-reference"]) == 0
    assert capsys.readouterr().out == render_reference()


def test_every_setting_has_a_section_with_its_description() -> None:
    reference = render_reference()
    headings = re.findall(r"^### `(COMPLAINTOPS_[A-Z0-9_]+)`$", reference, flags=re.MULTILINE)
    assert headings == [env_var(name) for name in Settings.model_fields]
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name} has no description"
        section = reference.split(f"### `{env_var(name)}`", 1)[1].split("###", 1)[0]
        first_words = field.description.split()[0].replace("<", "\\<")
        assert first_words in section


def test_types_defaults_constraints_and_secrets_are_shown() -> None:
    reference = render_reference()
    smtp_port = reference.split("### `COMPLAINTOPS_SMTP_PORT`", 1)[1].split("###", 1)[0]
    assert "- Type: integer" in smtp_port
    assert "- Allowed: >= 1, <= 65535" in smtp_port
    assert "- Default: `25`" in smtp_port
    secret = reference.split("### `COMPLAINTOPS_SECRET_KEY`", 1)[1].split("###", 1)[0]
    assert "- Secret: yes" in secret
    assert "- Default: unset" in secret
    mode = reference.split("### `COMPLAINTOPS_MODE`", 1)[1].split("###", 1)[0]
    assert "- Type: one of `demo`, `production`" in mode
    assert "| [`COMPLAINTOPS_API_TOKENS`](#complaintops_api_tokens) | list of text | empty |" in (
        reference
    )


class _Sample(Settings):
    colour: Literal["red", "green"] = Field(default="red", description="A colour <shade>.")
    password: SecretStr | None = Field(default=None, description="A password.")
    weights: list[float] = Field(default_factory=lambda: [1.0, 2.0], description="Weights.")


def test_a_new_setting_appears_with_its_env_name_and_escaped_description() -> None:
    reference = render_reference(_Sample)
    assert "### `COMPLAINTOPS_COLOUR`" in reference
    assert "A colour \\<shade>." in reference
    assert "| [`COMPLAINTOPS_WEIGHTS`](#complaintops_weights) | list of number | `1.0,2.0` |" in (
        reference
    )
    password = reference.split("### `COMPLAINTOPS_PASSWORD`", 1)[1]
    assert "- Secret: yes" in password.split("###", 1)[0]


@pytest.mark.parametrize(
    ("annotation", "text"),
    [
        (str, "text"),
        (int | None, "integer, optional"),
        (bool, "boolean (`true`/`false`)"),
        (Path | None, "path, optional"),
        (Literal["none", "ssl"], "one of `none`, `ssl`"),
        (list[str], "list of text"),
    ],
)
def test_type_descriptions(annotation: object, text: str) -> None:
    assert _describe_type(annotation) == text
