"""Build of the compiled extensions: the batch kernel
(metrics/kernel/_compiled.pyx) and the Kafka record reader
(consumers/fetch/_records.pyx).

Everything else about the package is in pyproject.toml. The kernel is a
Cython extension: without it the metrics sink runs the reference kernel on
the pure core, several times slower (see metrics.kernel).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [
            Extension("metrics.kernel._compiled", ["metrics/kernel/_compiled.pyx"]),
            Extension("consumers.fetch._records", ["consumers/fetch/_records.pyx"]),
        ],
        compiler_directives={"language_level": "3"},
    )
)
