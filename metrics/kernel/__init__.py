"""Batch kernels of the metrics sink (see ``metrics.kernel.api``).

``load_kernel`` gives the compiled kernel when its extension module is built
(``make venv`` builds it) and the reference kernel on the pure core
otherwise; both give the same results, the compiled one several times
faster.
"""

from __future__ import annotations

import importlib
import logging
from zoneinfo import ZoneInfo

from events.scoring import DEFAULT_RULES, RuleSource
from metrics.kernel.api import BatchKernel
from metrics.kernel.reference import ReferenceKernel

log = logging.getLogger(__name__)

COMPILED_MODULE = "metrics.kernel._compiled"


def compiled_kernel(tz: ZoneInfo, rules: RuleSource = DEFAULT_RULES) -> BatchKernel:
    """The compiled kernel; ImportError when its extension is not built."""
    module = importlib.import_module(COMPILED_MODULE)
    kernel: BatchKernel = module.CompiledKernel(tz, rules)
    return kernel


def compiled_available() -> bool:
    try:
        importlib.import_module(COMPILED_MODULE)
    except ImportError:
        return False
    return True


def load_kernel(tz: ZoneInfo, rules: RuleSource = DEFAULT_RULES) -> BatchKernel:
    """The compiled kernel if built, else the reference kernel (logged once)."""
    try:
        return compiled_kernel(tz, rules)
    except ImportError as exc:
        _warn_once(exc)
        return ReferenceKernel(tz, rules)


_warned = False


def _warn_once(exc: ImportError) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(
            "the compiled batch kernel is not built (%s): the metrics sink runs the "
            "reference kernel, several times slower; `make venv` builds it",
            exc,
        )
