"""Run a set of child processes and stop every one of them together.

Each child runs in its own process group (its own session), so a signal meant
for the child also reaches anything the child starts, and a Ctrl-C typed at
the terminal reaches only the parent, which then stops the children in order.
On Linux, each child is also told to die with its parent (``PR_SET_PDEATHSIG``
through ``setpriv``), so a parent killed with SIGKILL leaves nothing behind.
The parent-death signal follows the *thread* that started the child: start
children from a thread that lives as long as they should (normally the main
thread). It is armed a moment after the child starts, so only a parent killed
in that instant can leave a child behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, BinaryIO, TextIO

DEFAULT_STOP_TIMEOUT_S = 10.0
"""Seconds a child gets between SIGTERM and SIGKILL."""

LOG_TAIL_LINES = 20
"""Lines of a child's log quoted when it dies unexpectedly."""

_POLL_INTERVAL_S = 0.2
_READER_JOIN_TIMEOUT_S = 2.0
_SETPRIV = shutil.which("setpriv") if sys.platform.startswith("linux") else None


# -- process-group primitives (shared with complaintops.embedded) -------------


def with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    """Prefix ``argv`` so the process gets SIGKILL when its parent dies (Linux only)."""
    if _SETPRIV is None:
        return list(argv)
    return [_SETPRIV, "--pdeathsig", "KILL", "--", *argv]


def spawn_process_group(
    argv: Sequence[str],
    *,
    stdout: int | IO[bytes],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` as the leader of a new session and process group.

    stderr is merged into ``stdout``; stdin is closed. ``env`` replaces the
    environment when given.
    """
    return subprocess.Popen(
        with_parent_death_signal(argv),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )


def signal_process_group(process: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the child's whole process group while the child is unreaped.

    Once the leader has been reaped its id may be reused, so nothing is sent then.
    """
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def terminate_process_group(
    process: subprocess.Popen[bytes], timeout: float = DEFAULT_STOP_TIMEOUT_S
) -> int:
    """SIGTERM the child's group, wait up to ``timeout`` seconds, then SIGKILL.

    A stopped (SIGSTOP) child is continued so it can act on the SIGTERM.
    Returns the exit status as reported by ``Popen.returncode``.
    """
    if process.poll() is None:
        signal_process_group(process, signal.SIGTERM)
        signal_process_group(process, signal.SIGCONT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(process)
    return process.wait()


def kill_process_group(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL the child's group and reap the child."""
    signal_process_group(process, signal.SIGKILL)
    return process.wait()


def read_log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last ``lines`` lines of a log file ("" when it does not exist)."""
    try:
        data = log_path.read_bytes()
    except FileNotFoundError:
        return ""
    text = data[-64 * 1024 :].decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


# -- supervisor ----------------------------------------------------------------


@dataclass
class ChildSpec:
    """A child process to run.

    ``env`` holds extra variables laid over the parent's environment.
    """

    name: str
    argv: list[str]
    env: dict[str, str] | None = None


@dataclass(frozen=True)
class ChildExit:
    """A child that exited while it was expected to keep running."""

    name: str
    returncode: int
    log_tail: str

    def describe(self) -> str:
        """A human-readable account: which child, how it ended, its last log lines."""
        if self.returncode < 0:
            how = f"was killed by signal {signal.Signals(-self.returncode).name}"
        else:
            how = f"exited with code {self.returncode}"
        text = f"process '{self.name}' {how}"
        if self.log_tail:
            text += f"; last lines of its log:\n{self.log_tail}"
        return text


@dataclass
class _Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes]
    log_path: Path
    reader: threading.Thread


class Supervisor:
    """Starts child processes, echoes their output, and stops them all together.

    Each child's stdout and stderr go to ``<log_dir>/<name>.log`` and are also
    echoed to ``echo`` (the parent's stdout by default) prefixed with ``[name] ``.
    """

    def __init__(self, log_dir: Path, echo: TextIO | None = None) -> None:
        self.log_dir = log_dir
        self._echo = echo if echo is not None else sys.stdout
        self._echo_lock = threading.Lock()
        self._children: dict[str, _Child] = {}
        self._stop_requested = threading.Event()
        _live_supervisors.add(self)

    # -- starting ----------------------------------------------------------

    def start(self, spec: ChildSpec) -> subprocess.Popen[bytes]:
        """Start a child; its name must be unique within this supervisor."""
        if spec.name in self._children:
            raise ValueError(f"a process named '{spec.name}' is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{spec.name}.log"
        env = {**os.environ, **spec.env} if spec.env is not None else None
        log_file = log_path.open("ab")
        try:
            process = spawn_process_group(spec.argv, stdout=subprocess.PIPE, env=env)
        except BaseException:
            log_file.close()
            raise
        reader = threading.Thread(
            target=self._copy_output,
            args=(spec.name, process, log_file),
            name=f"output-{spec.name}",
            daemon=True,
        )
        reader.start()
        self._children[spec.name] = _Child(spec, process, log_path, reader)
        return process

    def _copy_output(self, name: str, process: subprocess.Popen[bytes], log_file: BinaryIO) -> None:
        assert process.stdout is not None
        prefix = f"[{name}] "
        with log_file:
            for raw_line in iter(process.stdout.readline, b""):
                log_file.write(raw_line)
                log_file.flush()
                line = raw_line.decode("utf-8", errors="replace").rstrip("\r\n")
                self._echo_line(prefix + line)
        process.stdout.close()

    def _echo_line(self, text: str) -> None:
        # A closed or broken echo stream must not stop the log copy (the child
        # would block on a full pipe), so echo failures are ignored.
        with self._echo_lock, contextlib.suppress(ValueError, OSError):
            self._echo.write(text + "\n")
            self._echo.flush()

    # -- inspecting --------------------------------------------------------

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        """The started children by name."""
        return {name: child.process for name, child in self._children.items()}

    def log_path(self, name: str) -> Path:
        """Where the named child's output is written."""
        return self._children[name].log_path

    def _exited_child(self) -> ChildExit | None:
        for name, child in self._children.items():
            returncode = child.process.poll()
            if returncode is not None:
                child.reader.join(_READER_JOIN_TIMEOUT_S)
                return ChildExit(name, returncode, read_log_tail(child.log_path))
        return None

    # -- waiting and stopping ----------------------------------------------

    @property
    def stop_requested(self) -> bool:
        """True once SIGINT/SIGTERM arrived (inside :meth:`stop_signals_handled`) or
        :meth:`request_stop` was called; long start-up steps can check it."""
        return self._stop_requested.is_set()

    def request_stop(self) -> None:
        """Make :meth:`wait` return and stop the children (safe from any thread)."""
        self._stop_requested.set()

    def wait(self, stop_timeout: float = DEFAULT_STOP_TIMEOUT_S) -> ChildExit | None:
        """Block until SIGINT/SIGTERM, :meth:`request_stop`, or a child's unexpected exit.

        Then stop every remaining child. Returns the child that exited (after
        reporting it on the echo stream), or ``None`` when asked to stop.
        Signal handlers are installed only when called from the main thread.
        """
        with self.stop_signals_handled():
            exited = self._exited_child()
            while exited is None and not self._stop_requested.wait(_POLL_INTERVAL_S):
                exited = self._exited_child()
        if exited is not None:
            self._echo_line(f"{exited.describe()}\nstopping the other processes")
        self.stop_all(stop_timeout)
        return exited

    @contextlib.contextmanager
    def stop_signals_handled(self) -> Iterator[None]:
        """While inside, SIGINT and SIGTERM request a stop instead of ending the parent.

        Wrap the start-up in it too, so a Ctrl-C while children are starting
        still stops them in order. Only acts in the main thread.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self._stop_requested.set()

        previous = {
            signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop_all(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> dict[str, int]:
        """SIGTERM every child's group, wait up to ``timeout`` in total, SIGKILL the rest.

        Returns each child's exit status. Safe to call more than once.
        """
        children = list(self._children.values())
        for child in children:
            signal_process_group(child.process, signal.SIGTERM)
            signal_process_group(child.process, signal.SIGCONT)
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_process_group(child.process)
        for child in children:
            child.reader.join(_READER_JOIN_TIMEOUT_S)
        return {child.spec.name: child.process.wait() for child in children}

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()


_live_supervisors: weakref.WeakSet[Supervisor] = weakref.WeakSet()


@atexit.register
def _stop_supervised_children() -> None:
    for supervisor in list(_live_supervisors):
        supervisor.stop_all(timeout=5.0)
