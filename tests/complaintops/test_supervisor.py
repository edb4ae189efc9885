"""The supervisor against real child processes and real signals."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from complaintops.supervisor import ChildExit, ChildSpec, Supervisor

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAIT_LIMIT_S = 30.0

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
IGNORES_SIGTERM = [
    sys.executable,
    "-c",
    "import signal, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ignoring SIGTERM', flush=True)\n"
    "time.sleep(60)",
]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail (not flake) after a generous limit."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def process_is_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    state = stat.rsplit(")", 1)[1].split()[0]
    return state in ("Z", "X")


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    sup = Supervisor(tmp_path / "logs", echo=io.StringIO())
    try:
        yield sup
    finally:
        sup.stop_all(timeout=1.0)


def test_output_goes_to_log_file_and_prefixed_echo(tmp_path: Path) -> None:
    echo = io.StringIO()
    sup = Supervisor(tmp_path / "logs", echo=echo)
    sup.start(ChildSpec("greeter", [sys.executable, "-c", "print('hello'); print('world')"]))

    exited = sup.wait(stop_timeout=1.0)

    assert exited is not None and exited.returncode == 0
    assert (tmp_path / "logs" / "greeter.log").read_text() == "hello\nworld\n"
    assert "[greeter] hello\n[greeter] world\n" in echo.getvalue()


def test_child_env_is_laid_over_parent_environment(supervisor: Supervisor) -> None:
    script = "import os; print(os.environ['EXTRA'], 'PATH' in os.environ)"
    supervisor.start(ChildSpec("env", [sys.executable, "-c", script], env={"EXTRA": "yes"}))

    supervisor.wait(stop_timeout=1.0)

    assert supervisor.log_path("env").read_text() == "yes True\n"


def test_reports_child_that_dies_and_stops_the_rest(tmp_path: Path) -> None:
    echo = io.StringIO()
    sup = Supervisor(tmp_path / "logs", echo=echo)
    sleeper = sup.start(ChildSpec("sleeper", SLEEPER))
    failing = [sys.executable, "-c", "import sys; print('cannot connect'); sys.exit(3)"]
    sup.start(ChildSpec("worker", failing))

    exited = sup.wait(stop_timeout=5.0)

    assert exited == ChildExit("worker", 3, "cannot connect")
    assert sleeper.returncode == -signal.SIGTERM
    assert "process 'worker' exited with code 3; last lines of its log:\ncannot connect" in (
        echo.getvalue()
    )


def test_describes_a_child_killed_by_a_signal() -> None:
    assert ChildExit("api", -9, "").describe() == "process 'api' was killed by signal SIGKILL"


def test_kills_child_that_ignores_sigterm(supervisor: Supervisor) -> None:
    stubborn = supervisor.start(ChildSpec("stubborn", IGNORES_SIGTERM))
    wait_until(
        lambda: "ignoring SIGTERM" in supervisor.log_path("stubborn").read_text(),
        "the child to install its SIGTERM handler",
    )

    codes = supervisor.stop_all(timeout=0.5)

    assert codes == {"stubborn": -signal.SIGKILL}
    assert stubborn.returncode == -signal.SIGKILL


def test_stop_all_reaches_the_childs_own_children(supervisor: Supervisor) -> None:
    spawner = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)"
    )
    supervisor.start(ChildSpec("spawner", [sys.executable, "-c", spawner]))
    log = supervisor.log_path("spawner")
    wait_until(lambda: log.exists() and log.read_text().strip() != "", "the grandchild pid")
    grandchild = int(log.read_text().split()[0])

    supervisor.stop_all(timeout=5.0)

    wait_until(lambda: process_is_gone(grandchild), "the grandchild to end")


def test_request_stop_ends_wait_and_stops_children(supervisor: Supervisor) -> None:
    sleeper = supervisor.start(ChildSpec("sleeper", SLEEPER))
    assert not supervisor.stop_requested
    supervisor.request_stop()
    assert supervisor.stop_requested

    assert supervisor.wait(stop_timeout=5.0) is None
    assert sleeper.returncode == -signal.SIGTERM


def test_duplicate_names_are_refused(supervisor: Supervisor) -> None:
    supervisor.start(ChildSpec("same", SLEEPER))
    with pytest.raises(ValueError, match="'same' is already running"):
        supervisor.start(ChildSpec("same", SLEEPER))


SUPERVISING_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from complaintops.supervisor import ChildSpec, Supervisor

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup = Supervisor(Path(sys.argv[1]))
    with sup.stop_signals_handled():
        pids = [sup.start(ChildSpec(f"sleeper-{n}", sleeper)).pid for n in range(2)]
        print("children", *pids, flush=True)
        exited = sup.wait(stop_timeout=5.0)
    print("stopped", exited, flush=True)
    """
)


def run_supervising_process(tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    """Start a parent process that supervises two sleepers; return it and their pids."""
    parent = subprocess.Popen(
        [sys.executable, "-c", SUPERVISING_SCRIPT, str(tmp_path / "logs")],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert parent.stdout is not None
    first_line = parent.stdout.readline().split()
    assert first_line[0] == "children", first_line
    return parent, [int(pid) for pid in first_line[1:]]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_to_parent_stops_every_child(tmp_path: Path, signum: int) -> None:
    parent, children = run_supervising_process(tmp_path)
    assert not any(process_is_gone(pid) for pid in children)

    parent.send_signal(signum)
    output, _ = parent.communicate(timeout=WAIT_LIMIT_S)

    assert parent.returncode == 0
    assert "stopped None" in output
    for pid in children:
        wait_until(partial(process_is_gone, pid), f"child {pid} to end")


def runs_python(pid: int) -> bool:
    """True once the child has passed the parent-death-signal wrapper and runs Python."""
    return Path(f"/proc/{pid}/exe").resolve().name.startswith("python")


def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    parent, children = run_supervising_process(tmp_path)
    for pid in children:
        wait_until(partial(runs_python, pid), f"child {pid} to run")

    parent.kill()
    parent.wait(timeout=WAIT_LIMIT_S)

    for pid in children:
        wait_until(partial(process_is_gone, pid), f"child {pid} to end")
