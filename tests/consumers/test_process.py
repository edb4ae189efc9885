"""Process-wide tuning of a consumer process, in fresh processes of its own."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Prints the bytes the C allocator holds in mapped blocks of their own while a
# 4 MiB buffer is alive: mapped fresh (and zeroed by the kernel) by default,
# from the heap once tuned.
PROBE = """
import ctypes, sys
from consumers.process import keep_allocator_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd",
        "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "tuned":
    assert keep_allocator_memory()
buffer = bytearray(4 * 1024 * 1024)
print(libc.mallinfo2().hblkhd)
"""


def mapped_bytes(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_a_tuned_process_takes_large_buffers_from_its_heap() -> None:
    assert mapped_bytes("default") >= 4 * 1024 * 1024
    assert mapped_bytes("tuned") < 4 * 1024 * 1024
