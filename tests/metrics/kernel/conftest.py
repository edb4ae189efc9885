"""The kernel under comparison: the compiled one, or a stand-in until it is built.

While ``metrics.kernel._compiled`` cannot be imported, the differential tests
compare the reference kernel with itself (so that they can be developed and
run), a warning says so, and ``test_the_compiled_kernel_is_built`` fails: the
comparison is never skipped silently.
"""

from __future__ import annotations

import warnings
from zoneinfo import ZoneInfo

import pytest

from events.scoring import RuleSource
from metrics.kernel import compiled_available, compiled_kernel
from metrics.kernel.api import BatchKernel
from metrics.kernel.reference import ReferenceKernel
from tests.metrics.kernel.compare import KernelFactory


class StandInKernel(ReferenceKernel):
    """The reference kernel, standing in for the compiled one while it is not built."""

    name = "reference (standing in for the compiled kernel, which is not built)"


def stand_in(tz: ZoneInfo, rules: RuleSource) -> BatchKernel:
    return StandInKernel(tz, rules)


@pytest.fixture(scope="session")
def make_compiled() -> KernelFactory:
    """Builds the kernel compared with the reference (for a zone and a rule source)."""
    if compiled_available():
        return compiled_kernel
    warnings.warn(
        "metrics.kernel._compiled is not built: the kernel equivalence tests compare "
        "the reference kernel with itself (test_the_compiled_kernel_is_built fails)",
        stacklevel=1,
    )
    return stand_in
